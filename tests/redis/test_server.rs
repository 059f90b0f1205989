//! The test helper itself (`tests/support/redis_server.rs`): a port found
//! free can be taken before `redis-server` binds it; the server that then
//! exits is started again on a fresh port, not reported as a failure.

use std::net::TcpListener;
use std::process::Command;

use super::redis_server::{FRESH_PORT, RedisServer};

fn ping(port: u16) -> String {
    let output = Command::new("redis-cli")
        .args(["-p", &port.to_string(), "ping"])
        .output()
        .expect("redis-cli");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[test]
fn a_server_whose_port_is_taken_before_it_binds_starts_again_on_a_fresh_port() {
    // The race, made certain: the port the first attempt gets is held.
    let taken = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let port = taken.local_addr().expect("its address").port();
    let Some(server) = RedisServer::start_first_on_port(port, &["--appendonly", "no"]) else {
        return;
    };
    assert_ne!(server.port(), port, "started again elsewhere");
    assert_eq!(ping(server.port()), "PONG");
    drop(taken);
}

#[test]
fn each_fresh_port_marker_gets_a_port_of_its_own() {
    let Some(server) = RedisServer::start_with(&[
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        "nodes.conf",
        "--cluster-port",
        FRESH_PORT,
    ]) else {
        return;
    };
    let bus = server.fresh_ports();
    assert_eq!(bus.len(), 1);
    assert_ne!(bus[0], server.port());
    // The bus listens where the marker said (Redis has no client command
    // that names it, so connect).
    std::net::TcpStream::connect(("127.0.0.1", bus[0])).expect("the cluster bus listens");
    assert_eq!(ping(server.port()), "PONG");
}
