//! `runreg ui`, black-box: it prints the page's URL, serves it on
//! loopback, warns when told to listen elsewhere, and checks its flags.
//! (Nothing here listens off loopback.)

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use assert_cmd::cargo::cargo_bin;
use common::Tree;

/// A `runreg ui` process, killed when dropped.
struct Ui(Child);

impl Drop for Ui {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `runreg ui ARGS` on `tree` and returns it with the URL it printed.
fn start(tree: &Tree, args: &[&str]) -> (Ui, String) {
    let mut child = Command::new(cargo_bin("runreg"))
        .arg("--cache-dir")
        .arg(tree.cache_dir())
        .arg("ui")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (Ui(child), line.trim().to_owned())
}

fn get(url: &str, path: &str) -> String {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, query) = rest.split_once('/').unwrap();
    let mut stream = TcpStream::connect(host).unwrap();
    write!(
        stream,
        "GET {path}{} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n",
        query.trim_start_matches('?').replace("token=", "?token=")
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn ui_prints_a_loopback_url_with_a_token_and_serves_the_runs() {
    let tree = Tree::new();
    tree.run("aa11").write();
    tree.run("bb22").write();
    let (_ui, url) = start(&tree, &["--port", "0"]);
    let rest = url
        .strip_prefix("http://127.0.0.1:")
        .unwrap_or_else(|| panic!("{url}"));
    let (port, token) = rest.split_once("/?token=").unwrap();
    assert!(port.parse::<u16>().unwrap() > 0);
    assert_eq!(token.len(), 32);
    let answer = get(&url, "/api/runs");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#""total":2"#), "{answer}");
    let page = get(&url, "/");
    assert!(page.contains("app.js?token="), "{page}");

    // Two servers never share a token.
    let (_other, second) = start(&tree, &["--port", "0"]);
    assert_ne!(second.split_once("token=").unwrap().1, token);
}

#[test]
fn another_address_than_loopback_is_warned_about() {
    // 192.0.2.1 (TEST-NET-1) is no address of this machine: the warning
    // comes before the bind, which fails, so nothing listens off loopback.
    let tree = Tree::new();
    let out = Command::new(cargo_bin("runreg"))
        .arg("--cache-dir")
        .arg(tree.cache_dir())
        .args(["ui", "--port", "0", "--host", "192.0.2.1"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: listening on 192.0.2.1, not on loopback"),
        "{stderr}"
    );
    assert!(stderr.contains("cannot listen on 192.0.2.1:0"), "{stderr}");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
}

#[test]
fn bad_flags_are_usage_errors() {
    let tree = Tree::new();
    for args in [
        &["--scan-interval", "-1"][..],
        &["--host", "not-an-address"],
        &["--port", "70000"],
    ] {
        let out = Command::new(cargo_bin("runreg"))
            .arg("--cache-dir")
            .arg(tree.cache_dir())
            .arg("ui")
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty());
    }
}
