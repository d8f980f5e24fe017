//! Whether an account, as an import would store it, can be billed by its tenant's rules:
//! checked when the account enters the system, so a mistake is reported to the operator
//! with its row instead of to the payer at the kiosk.

use crate::models::Pricing;
use crate::tenant::Tenant;
use posfee_schemas::events::AccountUpserted;
use posfee_schemas::ids::FeeKind;
use std::collections::BTreeSet;

impl Tenant {
    /// Every reason the account cannot be billed by this tenant's rules, each naming the
    /// column it is about; empty when it can. The account's tenant is not compared: the
    /// caller found this tenant by it.
    pub fn check_account(&self, a: &AccountUpserted) -> Vec<String> {
        if !self.classes.contains(&a.class) {
            // Nothing below can be judged for a class the tenant does not know.
            return vec![format!(
                "class: {:?} is not a class of tenant {} ({}; declared in {})",
                a.class,
                self.id,
                self.classes.join(", "),
                self.source
            )];
        }
        let mut problems = Vec::new();
        let used = [
            ("meters", a.meters.keys().collect::<Vec<_>>()),
            ("paid_through", a.paid_through.keys().collect()),
            ("arrears", a.arrears.iter().map(|r| &r.kind).collect()),
        ];
        let mut billed = BTreeSet::new();
        for (column, kinds) in used {
            for kind in kinds {
                match Some(kind.clone()).filter(|k| self.kind(k).is_some()) {
                    Some(k) => {
                        billed.insert(k);
                    }
                    None => problems.push(format!(
                        "{column}: tenant {} does not bill \"{kind}\" (it bills {})",
                        self.id,
                        self.kind_names()
                    )),
                }
            }
        }
        for kind in &billed {
            problems.extend(self.check_charges(kind, a));
        }
        problems
    }

    /// The charge rule for the account's class prices it in every version.
    fn check_charges(&self, kind: &FeeKind, a: &AccountUpserted) -> Vec<String> {
        let Some(rule) = self.charge_rule(kind, &a.class) else {
            return vec![format!(
                "class: tenant {} has no {kind} rule for class {:?} (see {})",
                self.id, a.class, self.source
            )];
        };
        let mut problems = BTreeSet::new();
        for v in &rule.versions {
            if let Pricing::Periodic(model) = v.charge.pricing() {
                if let Err(e) = model.check_attributes(&rule.id, &a.attributes) {
                    problems.insert(format!("attributes: {e}"));
                }
            }
        }
        problems.into_iter().collect()
    }

    fn kind_names(&self) -> String {
        let names: Vec<&str> = self.kinds.iter().map(|k| k.kind.as_str()).collect();
        names.join(", ")
    }
}
