//! Reference data and payers the end-to-end tests share.

// Fixture literals are valid by construction; if one were not, the test using it fails here.
#![allow(clippy::expect_used)]

use crate::publish_events;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use ed25519_dalek::SigningKey;
use posfee_client::call;
use posfee_schemas::events::{AccountUpserted, Event, EventBody, ReadingRecorded};
use posfee_schemas::ids::{
    AccountNo, EventId, FeeKind, IdempotencyKey, KeyId, Month, PayerHandle, TenantId,
};
use posfee_schemas::paygate::{RegisterReply, RegisterRequest};
use posfee_schemas::subjects::{self, PaygateOp};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::str::FromStr;

fn water_kind() -> FeeKind {
    FeeKind::parse("water").expect("a fee kind")
}

/// 2026-11-25 10:00 in Shanghai: the day the fixtures are billed.
pub fn billing_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 2, 0, 0)
        .single()
        .expect("valid instant")
}

pub fn water() -> TenantId {
    TenantId::parse("city-water").expect("valid tenant id")
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

/// Water households `account` paid through September, 170 m³ used this year before October
/// and 30 m³ in October: each owes 190.00 CNY on the billing day (see tests/fee_engine.rs for
/// the arithmetic).
pub fn water_household_events(account: &AccountNo) -> Vec<Event> {
    let meter = format!("W-{account}");
    let reading = |on: NaiveDate, value: &str| {
        Event::new(
            EventId::new_random(),
            billing_now(),
            EventBody::ReadingRecorded(ReadingRecorded {
                tenant: water(),
                account: account.clone(),
                meter: meter.clone(),
                register: None,
                read_on: on,
                value: Decimal::from_str(value).expect("valid decimal"),
            }),
        )
    };
    vec![
        Event::new(
            EventId::new_random(),
            billing_now(),
            EventBody::AccountUpserted(AccountUpserted {
                tenant: water(),
                account: account.clone(),
                class: "residential".into(),
                holder_name: "王五".into(),
                attributes: BTreeMap::new(),
                meters: BTreeMap::from([(water_kind(), meter.clone())]),
                paid_through: BTreeMap::from([(
                    water_kind(),
                    Month::parse("2026-09").expect("a month"),
                )]),
                arrears: vec![],
            }),
        ),
        reading(day(2025, 12, 31), "1000"),
        reading(day(2026, 9, 30), "1170"),
        reading(day(2026, 10, 31), "1200"),
    ]
}

/// Publishes water households as the importer.
pub async fn import_water_households(
    importer: &async_nats::Client,
    signer: &posfee_schemas::trust::Signer,
    accounts: &[AccountNo],
) -> anyhow::Result<()> {
    let mut events = Vec::new();
    for a in accounts {
        events.extend(water_household_events(a));
    }
    publish_events(importer, signer, &events).await
}

/// A registered phone: the payer handle and the device key that signs its orders.
pub struct Phone {
    pub payer: PayerHandle,
    pub device_key_id: KeyId,
    pub device_key: SigningKey,
}

/// Registers a payer at paygate as a companion would, with a valid identity card number
/// (the standard's own example) and a Luhn-valid card.
pub async fn register_phone(companion: &async_nats::Client, name: &str) -> anyhow::Result<Phone> {
    let device_key = SigningKey::generate(&mut rand::rngs::OsRng);
    let device_key_id = KeyId::parse(format!("dev-{}", uuid::Uuid::new_v4().simple()))?;
    let reply: RegisterReply = call(
        companion,
        subjects::paygate(
            PaygateOp::Register,
            &posfee_client::bus::asker_of(companion)?,
        ),
        &RegisterRequest::signed(
            name.to_string(),
            "11010519491231002X".into(),
            "4111111111111111".into(),
            &device_key,
            device_key_id.clone(),
            IdempotencyKey::parse(format!("reg-{device_key_id}"))?,
        ),
        None,
    )
    .await?;
    Ok(Phone {
        payer: reply.payer,
        device_key_id,
        device_key,
    })
}

/// Where the phone `companion` corrects its registration.
pub fn amend_subject(companion: &async_nats::Client) -> String {
    subjects::paygate(
        PaygateOp::Amend,
        &posfee_client::bus::asker_of(companion).expect("a phone's connection"),
    )
}

/// The topic of a paygate call as the phone `companion` makes it.
pub fn pay_subject(companion: &async_nats::Client) -> String {
    let me = posfee_client::bus::asker_of(companion)
        .unwrap_or(subjects::Identity::Role(subjects::Role::Operator));
    subjects::paygate(PaygateOp::Pay, &me)
}
