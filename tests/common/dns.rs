//! dnsmasq on a free loopback port, serving the TXT records of DNS proofs: the real DNS
//! server of the tests that prove a domain.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// dnsmasq serving the given TXT records on a free loopback port; killed on drop.
pub struct Dns {
    child: Child,
    pub addr: SocketAddr,
}

impl Drop for Dns {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_dns(records: &[(&str, &str)]) -> Option<Dns> {
    if !super::require_program("/usr/sbin/dnsmasq") {
        return None;
    }
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = Command::new("/usr/sbin/dnsmasq");
    cmd.args([
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        "--bind-interfaces",
        "--listen-address=127.0.0.1",
        "--pid-file",
        "--user=root",
        // Answer for these zones (NXDOMAIN when a name is absent) like an authoritative
        // server would, instead of refusing.
        "--local=/com/",
        "--local=/uk/",
        "--local=/example/",
        &format!("--port={port}"),
    ]);
    for (name, value) in records {
        cmd.arg(format!("--txt-record={name},{value}"));
    }
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    // Owned by the guard at once, so it is killed whichever way this function ends.
    let dns = Dns {
        child: cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
        addr,
    };
    // Wait until it answers: up to 10 s, since the whole suite may be loading both cores.
    for _ in 0..200 {
        if std::net::TcpStream::connect(addr).is_ok() {
            return Some(dns);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("dnsmasq did not start on {addr}");
}
