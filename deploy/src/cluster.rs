//! A NATS cluster on one machine: the local stand-in for three hosts (`posfee up --cluster 3`).
//!
//! Every node runs the same nats.conf with its own name, its own JetStream store folder and a
//! route to every other node on a loopback port. The streams and buckets are then created with
//! [`replicas`] copies, so an acknowledged write is on a majority of nodes and one node may be
//! lost (or its store wiped) without losing anything. `deploy/production/` holds the same layout
//! for three real hosts, with TLS on routes and clients.

use crate::layout::DataDir;
use crate::natsd::ServerConfig;
pub use crate::natsd::{ClusterNode, CLUSTER_NAME};
use anyhow::Context;
use std::path::PathBuf;

/// The most copies a stream keeps; three survive the loss of any one node.
pub const MAX_REPLICAS: usize = 3;

/// How many copies the streams keep on a cluster of `nodes`.
pub fn replicas(nodes: usize) -> usize {
    nodes.clamp(1, MAX_REPLICAS)
}

/// Where node `i` (1-based) of a cluster keeps its store, ports file and log. A server on its
/// own keeps the plain paths of [`DataDir`].
pub fn node_paths(data: &DataDir, i: usize, nodes: usize) -> (PathBuf, PathBuf, PathBuf) {
    if nodes <= 1 {
        return (
            data.jetstream(),
            data.nats_run(),
            data.logs().join(crate::natsd::SERVER_LOG),
        );
    }
    let dir = data.root().join("nats").join(format!("node-{i}"));
    (
        dir.join("jetstream"),
        dir.join("run"),
        data.logs().join(format!("nats-server-{i}.log")),
    )
}

/// A free TCP port on loopback, for a route listener that must be known before its node
/// starts (the others are told where it is).
fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(l.local_addr()?.port())
}

/// The configurations of `nodes` servers: `first` (the client port and environment the
/// caller chose) for node 1, free client ports for the others, and routes between them all.
pub fn plan(
    data: &DataDir,
    first: &ServerConfig,
    nodes: usize,
) -> anyhow::Result<Vec<ServerConfig>> {
    if nodes <= 1 {
        return Ok(vec![first.clone()]);
    }
    let routes: Vec<u16> = (0..nodes)
        .map(|_| free_port())
        .collect::<anyhow::Result<_>>()?;
    (1..=nodes)
        .map(|i| {
            let (store_dir, run_dir, log) = node_paths(data, i, nodes);
            Ok(ServerConfig {
                port: if i == 1 { first.port } else { None },
                store_dir,
                run_dir,
                log_file: Some(log),
                cluster: Some(ClusterNode {
                    server_name: format!("{CLUSTER_NAME}-{i}"),
                    route_port: routes[i - 1],
                    peers: routes
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| *j != i - 1)
                        .map(|(_, p)| *p)
                        .collect(),
                }),
                ..first.clone()
            })
        })
        .collect()
}
