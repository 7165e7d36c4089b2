//! dnsmasq on a loopback port serving the TXT records a test publishes: the real DNS server
//! behind the domain proofs (`discovery::proof`).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use realmgate::discovery::DomainProof;
use realmgate::discovery::proof::TXT_PREFIX;

/// The gateway secret the tests' proof tokens are made with (`Config::secret`).
pub const SECRET: &str = "dns-proof-test-secret-0123456789abcdef";

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

/// The TXT value that proves `domain` for `account` under [`SECRET`].
pub fn token(account: &str, domain: &str) -> String {
    let proof = DomainProof::new(Some("127.0.0.1:53".parse().unwrap()), SECRET.as_bytes()).unwrap();
    format!("{TXT_PREFIX}{}", proof.token(account, domain))
}

/// Starts dnsmasq with `records` (name, value); `None` (skip) when it is not installed
/// outside CI.
pub fn start(records: &[(&str, &str)]) -> Option<Dns> {
    if !super::require_program("/usr/sbin/dnsmasq") {
        return None;
    }
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    // Owned by the guard at once, so it is killed whichever way this function ends.
    let dns = Dns {
        child: spawn(addr, records),
        addr,
    };
    dns.wait_until_it_answers();
    Some(dns)
}

impl Dns {
    /// Serves `records` instead, on the same address (dnsmasq reads TXT records only at
    /// start, so it is restarted): how a test unpublishes a record.
    pub fn republish(&mut self, records: &[(&str, &str)]) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn(self.addr, records);
        self.wait_until_it_answers();
    }

    /// Up to 10 s, since the whole suite may be loading both cores.
    fn wait_until_it_answers(&self) {
        for _ in 0..200 {
            if std::net::TcpStream::connect(self.addr).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("dnsmasq did not start on {}", self.addr);
    }
}

fn spawn(addr: SocketAddr, records: &[(&str, &str)]) -> Child {
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
        &format!("--port={}", addr.port()),
    ]);
    for (name, value) in records {
        cmd.arg(format!("--txt-record={name},{value}"));
    }
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}
