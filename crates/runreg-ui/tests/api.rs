//! The JSON API and the gate in front of it, through real HTTP requests to
//! a server on 127.0.0.1:0, on a copy of the example tree (36 runs).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use runreg::{Filter, Query, Registry};
use runreg_ui::{Live, Server};
use serde_json::Value as Json;
use tempfile::TempDir;

/// A server answering on a copy of `examples/cache`.
struct Running {
    dir: TempDir,
    addr: SocketAddr,
    token: String,
}

/// One HTTP answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Json {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn start_with(interval: Duration, prepare: impl FnOnce(&Path)) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/cache/runs");
    copy_dir(&examples, &dir.path().join("runs"));
    prepare(dir.path());
    let live = Live::open(Registry::builder(dir.path()), true, interval).unwrap();
    let server = Server::new(TcpListener::bind("127.0.0.1:0").unwrap(), live, 4).unwrap();
    let (addr, token) = (server.addr(), server.token().as_str().to_owned());
    std::thread::spawn(move || server.serve());
    Running { dir, addr, token }
}

fn start() -> Running {
    start_with(Duration::from_secs(3), |_| {})
}

impl Running {
    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.addr.port())
    }

    /// Sends `request` as is and reads the whole answer.
    fn raw(&self, request: &str) -> Answer {
        let mut stream = TcpStream::connect(self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut bytes = Vec::new();
        stream.read_to_end(&mut bytes).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect();
        Answer {
            status,
            headers,
            body: body.to_owned(),
        }
    }

    /// `method path` with `extra` header lines.
    fn send(&self, method: &str, path: &str, extra: &str) -> Answer {
        self.raw(&format!(
            "{method} {path} HTTP/1.1\r\n{extra}Connection: close\r\n\r\n"
        ))
    }

    /// GET with the right Host and the token in the header.
    fn get(&self, path: &str) -> Answer {
        let extra = format!(
            "Host: {}\r\nX-Runreg-Token: {}\r\n",
            self.host(),
            self.token
        );
        self.send("GET", path, &extra)
    }

    fn get_json(&self, path: &str) -> Json {
        let answer = self.get(path);
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        assert_eq!(answer.header("Content-Type"), Some("application/json"));
        answer.json()
    }

    fn registry(&self) -> Registry {
        Registry::builder(self.dir.path())
            .scan(false)
            .open()
            .unwrap()
    }
}

fn enc(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn matching(server: &Running, expr: &str) -> usize {
    let query = Query::new().filter(Filter::parse(expr).unwrap());
    server.registry().query(&query).unwrap().len()
}

#[test]
fn runs_are_paged_filtered_and_sorted() {
    let server = start();
    let all = server.get_json("/api/runs?limit=5");
    assert_eq!(all["total"], 36);
    assert_eq!(all["runs"].as_array().unwrap().len(), 5);
    assert_eq!(
        all["columns"],
        serde_json::json!(["status", "created_at", "tags"])
    );

    let expr = "summary.val_acc > 0.9";
    let expected = matching(&server, expr);
    assert!(expected > 1 && expected < 36, "{expected}");
    let path = format!(
        "/api/runs?where={}&sort={}&columns=summary.val_acc,hparams.optim.lr&limit=1000",
        enc(expr),
        enc("summary.val_acc:desc")
    );
    let page = server.get_json(&path);
    assert_eq!(page["total"], expected);
    let accs: Vec<f64> = page["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["values"][0].as_f64().unwrap())
        .collect();
    assert_eq!(accs.len(), expected);
    assert!(accs.windows(2).all(|w| w[0] >= w[1]), "{accs:?}");
    assert!(accs.iter().all(|&a| a > 0.9));

    // The second page continues the first; the total stays.
    let sort = enc("summary.val_acc:asc,run_id:asc");
    let first = server.get_json(&format!("/api/runs?sort={sort}&limit=10&columns=run_id"));
    let second = server.get_json(&format!(
        "/api/runs?sort={sort}&offset=10&limit=10&columns=run_id"
    ));
    let both = server.get_json(&format!("/api/runs?sort={sort}&limit=20&columns=run_id"));
    let ids = |page: &Json| -> Vec<String> {
        page["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["run_id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!([ids(&first), ids(&second)].concat(), ids(&both));
    assert_eq!(second["total"], 36);
}

#[test]
fn pages_are_capped_and_bad_parameters_say_why() {
    let server = start();
    let page = server.get_json("/api/runs?limit=100000");
    assert_eq!(page["limit"], runreg_ui::MAX_PAGE);
    let far = server.get_json(&format!("/api/runs?offset={}&limit=1000", usize::MAX));
    assert_eq!(far["runs"].as_array().unwrap().len(), 0);
    let past = server.get_json("/api/runs?offset=500");
    assert_eq!(
        (
            past["total"].as_u64(),
            past["runs"].as_array().unwrap().len()
        ),
        (Some(36), 0)
    );

    // A bad filter: 400 with the caret message runreg ls --where prints.
    let bad = server.get(&format!("/api/runs?where={}", enc("summary.val_acc >")));
    assert_eq!(bad.status, 400);
    let error = bad.json();
    let message = error["error"].as_str().unwrap();
    assert!(message.starts_with("invalid filter:"), "{message}");
    assert!(
        message.contains("summary.val_acc >\n") && message.ends_with('^'),
        "{message}"
    );
    assert_eq!(error["column"], 18);

    for path in [
        "/api/runs?limit=-1",
        "/api/runs?offset=x",
        "/api/runs?sort=nope",
        "/api/runs?sort=tags",
        "/api/runs?columns=summary",
        "/api/sweep?metric=bogus",
        "/api/keys?where=%28",
        "/api/diff?run=a",
        "/api/runs?where=%ff",
    ] {
        let answer = server.get(path);
        assert_eq!(answer.status, 400, "{path}: {}", answer.body);
        assert!(
            answer.json()["error"]
                .as_str()
                .is_some_and(|e| !e.is_empty())
        );
    }
    assert_eq!(server.get("/api/nope").status, 404);
}

#[test]
fn keys_sweep_run_metrics_and_diff_answer_from_the_library() {
    let server = start_with(Duration::from_secs(3), |dir| {
        let mut csv = String::from("step,val_loss\n");
        for step in 0..2000 {
            let value = if step == 1234 {
                1000.0
            } else {
                1.0 / f64::from(step + 1)
            };
            csv.push_str(&format!("{step},{value}\n"));
        }
        std::fs::write(
            dir.join("runs/20261120/081200/3be516d6716e/metrics.csv"),
            csv,
        )
        .unwrap();
    });
    let keys = server.get_json("/api/keys");
    let summary: Vec<&str> = keys["summary"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key"].as_str().unwrap())
        .collect();
    assert!(summary.contains(&"val_acc"), "{summary:?}");
    // Of the first runs only: none of none.
    let none = server.get_json("/api/keys?limit=0");
    assert_eq!(
        (
            none["hparams"].as_array().unwrap().len(),
            none["summary"].as_array().unwrap().len()
        ),
        (0, 0)
    );
    let newest = server.get_json("/api/keys?limit=1");
    assert!(!newest["summary"].as_array().unwrap().is_empty());
    assert!(
        keys["hparams"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kinds"].as_array().unwrap().contains(&"float".into()))
    );

    let expr = "tags has 'sweep:1002'";
    let sweep = server.get_json(&format!(
        "/api/sweep?where={}&metric=summary.val_acc",
        enc(expr)
    ));
    let runs = sweep["runs"].as_array().unwrap();
    assert_eq!(runs.len(), matching(&server, expr));
    assert_eq!(sweep["total"], runs.len());
    assert_eq!(sweep["metric"], "summary.val_acc");
    let axes = sweep["hparams"].as_array().unwrap();
    assert!(!axes.is_empty());
    // Every axis varies across the sweep, and each run has a value per axis.
    for (i, axis) in axes.iter().enumerate() {
        let values: std::collections::BTreeSet<String> =
            runs.iter().map(|r| r["hparams"][i].to_string()).collect();
        assert!(values.len() > 1, "{axis} does not vary");
    }
    assert!(
        runs.iter()
            .all(|r| r["hparams"].as_array().unwrap().len() == axes.len())
    );
    let registry = server.registry();
    let first = &runs[0];
    let record = registry
        .get(first["run_id"].as_str().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(
        first["metric"].as_f64(),
        record.summary.get("val_acc").and_then(|v| v.as_f64())
    );

    // A run: the record as `show --json` has it; NaN as a string.
    let run = server.get_json("/api/run/5a59b024ff15");
    assert_eq!(run["run_id"], "5a59b024ff15");
    assert_eq!(run["summary"]["train_loss"], "NaN");
    assert_eq!(run["status"], "failed");

    // Its metrics, whole and downsampled.
    let metrics = server.get_json("/api/run/5a59b024ff15/metrics?metric=val_acc");
    let series = metrics["series"].as_array().unwrap();
    assert_eq!(series.len(), 1);
    assert_eq!(series[0]["name"], "val_acc");
    let expected = registry
        .metrics("5a59b024ff15")
        .unwrap()
        .history(&["val_acc".into()], None)
        .unwrap();
    assert_eq!(
        series[0]["points"].as_array().unwrap().len(),
        expected.series[0].points.len()
    );
    // A long history (written in the copy) comes downsampled, its spike kept.
    let sampled = server.get_json("/api/run/3be516d6716e/metrics?points=4");
    let series = sampled["series"].as_array().unwrap();
    assert_eq!(series[0]["count"], 2000);
    let points = series[0]["points"].as_array().unwrap();
    assert!(points.len() <= 20, "{}", points.len());
    assert!(
        points.iter().any(|p| p["value"] == 1000.0),
        "the spike is kept"
    );
    assert_eq!(
        server.get_json("/api/run/3be516d6716e/metrics?points=1000000")["series"][0]["points"]
            .as_array()
            .unwrap()
            .len(),
        2000
    );

    // A diff: what `runreg diff --json` prints.
    let ids: Vec<&str> = runs
        .iter()
        .take(3)
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    let diff = server.get_json(&format!(
        "/api/diff?run={}&run={}&run={}",
        ids[0], ids[1], ids[2]
    ));
    assert_eq!(diff["runs"], serde_json::json!(ids));
    let differ = diff["differ"]["hparams"].as_object().unwrap();
    assert!(!differ.is_empty());
    assert!(differ.values().all(|v| v.as_array().unwrap().len() == 3));
    assert!(diff["equal"]["hparams"].as_u64().is_some());
}

#[test]
fn unknown_runs_and_path_tricks_read_no_file() {
    let server = start_with(Duration::from_secs(3), |dir| {
        // Outside the runs: a file no request may reach, and a run whose
        // metrics.csv is a symbolic link to it.
        std::fs::write(dir.join("secret.csv"), "step,SECRET\n1,2\n").unwrap();
        let run = dir.join("runs/20261110/161007/5a59b024ff15");
        std::fs::remove_file(run.join("metrics.csv")).unwrap();
        std::os::unix::fs::symlink(dir.join("secret.csv"), run.join("metrics.csv")).unwrap();
    });
    assert_eq!(server.get("/api/run/nosuchrun").status, 404);
    assert_eq!(server.get("/api/run/nosuchrun/metrics").status, 404);
    assert_eq!(
        server
            .get("/api/diff?run=3be516d6716e&run=nosuchrun")
            .status,
        404
    );
    let linked = server.get("/api/run/5a59b024ff15/metrics");
    assert_eq!(linked.status, 404, "{}", linked.body);
    assert!(!linked.body.contains("SECRET"));
    for path in [
        "/api/run/..%2f..%2fetc%2fpasswd",
        "/api/run/..%2F..%2Fetc%2Fpasswd/metrics",
        "/api/run/%2e%2e",
        "/api/run/%2e%2e/metrics",
        "/api/run/%00",
        "/api/run/a%00b/metrics",
        "/api/run/../sidecar.json",
        "/api/run/..",
        "/api/run/3be516d6716e/../../secret.csv",
        "/api/run/3be516d6716e/sidecar.json",
        "/api/run/%2Fetc%2Fpasswd",
        "/api/run/",
        "/../secret.csv",
        "/%2e%2e/secret.csv",
        "/runs/20261110/161007/5a59b024ff15/sidecar.json",
        "/app.js/../../secret.csv",
    ] {
        let answer = server.get(path);
        assert!(
            matches!(answer.status, 400 | 404),
            "{path}: {} {}",
            answer.status,
            answer.body
        );
        assert!(
            !answer.body.contains("SECRET") && !answer.body.contains("root:"),
            "{path}"
        );
        assert!(!answer.body.contains("\"run_id\""), "{path}");
    }
}

#[test]
fn the_token_the_host_and_the_method_are_checked_before_anything() {
    let server = start();
    let host = format!("Host: {}\r\n", server.host());
    let with_token = format!("{host}X-Runreg-Token: {}\r\n", server.token);
    for path in [
        "/",
        "/app.js",
        "/style.css",
        "/api/runs",
        "/api/status",
        "/api/run/3be516d6716e",
    ] {
        let missing = server.send("GET", path, &host);
        assert_eq!(missing.status, 403, "{path}");
        assert!(!missing.body.contains("run_id"));
        let wrong = server.send(
            "GET",
            &format!("{path}?token=0123456789abcdef0123456789abcdef"),
            &host,
        );
        assert_eq!(wrong.status, 403, "{path}");
        let prefix = server.send(
            "GET",
            &format!("{path}?token={}", &server.token[..31]),
            &host,
        );
        assert_eq!(prefix.status, 403, "{path}");
        assert_eq!(
            server
                .send("GET", path, &format!("{host}X-Runreg-Token: nope\r\n"))
                .status,
            403
        );
        // The token in the query, or in the header.
        assert_eq!(
            server
                .send("GET", &format!("{path}?token={}", server.token), &host)
                .status,
            200,
            "{path}"
        );
        assert_eq!(server.send("GET", path, &with_token).status, 200, "{path}");
    }
    // Another Host (DNS rebinding), none, another port: refused, token or not.
    let token = format!("X-Runreg-Token: {}\r\n", server.token);
    for bad in [
        "Host: evil.example\r\n".to_owned(),
        format!("Host: evil.example:{}\r\n", server.addr.port()),
        format!("Host: 127.0.0.1:{}\r\n", server.addr.port() + 1),
        String::new(),
    ] {
        let answer = server.send("GET", "/api/runs", &format!("{bad}{token}"));
        assert_eq!(answer.status, 403, "{bad:?}");
        assert!(!answer.body.contains("run_id"));
    }
    assert_eq!(
        server
            .send(
                "GET",
                "/api/status",
                &format!("Host: localhost:{}\r\n{token}", server.addr.port())
            )
            .status,
        200
    );
    // HTTP/1.0 without Host: refused.
    let old = server.raw(&format!(
        "GET /api/status?token={} HTTP/1.0\r\n\r\n",
        server.token
    ));
    assert_eq!(old.status, 403);
    // Only reads.
    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        let answer = server.raw(&format!(
            "{method} /api/runs HTTP/1.1\r\n{with_token}Content-Length: 2\r\nConnection: close\r\n\r\n{{}}"
        ));
        assert_eq!(answer.status, 405, "{method}");
        assert_eq!(answer.header("Allow"), Some("GET, HEAD"));
    }
    let head = server.send("HEAD", "/api/status", &with_token);
    assert_eq!((head.status, head.body.as_str()), (200, ""));
}

#[test]
fn assets_are_built_in_with_their_types_and_security_headers() {
    let server = start();
    for (path, kind) in [
        ("/", "text/html; charset=utf-8"),
        ("/index.html", "text/html; charset=utf-8"),
        ("/app.js", "text/javascript; charset=utf-8"),
        ("/style.css", "text/css; charset=utf-8"),
        ("/api/status", "application/json"),
    ] {
        let answer = server.get(path);
        assert_eq!(answer.status, 200, "{path}");
        assert_eq!(answer.header("Content-Type"), Some(kind), "{path}");
        assert!(
            answer
                .header("Content-Security-Policy")
                .unwrap()
                .starts_with("default-src 'self'")
        );
        assert_eq!(answer.header("X-Content-Type-Options"), Some("nosniff"));
        assert_eq!(answer.header("Referrer-Policy"), Some("no-referrer"));
        assert_eq!(answer.header("Cache-Control"), Some("no-store"));
        assert!(
            answer
                .header("Server-Timing")
                .unwrap()
                .starts_with("answer;dur=")
        );
        assert!(!answer.body.is_empty());
    }
    let page = server.get("/").body;
    assert!(page.contains(&format!("app.js?token={}", server.token)));
    assert_eq!(server.get("/favicon.ico").status, 404);
    assert_eq!(server.get("/Cargo.toml").status, 404);
}

#[test]
fn status_follows_the_tree_with_one_scan_per_interval() {
    let server = start_with(Duration::from_millis(300), |_| {});
    let before = server.get_json("/api/status");
    assert_eq!(before["total"], 36);
    let counts: u64 = before["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s[1].as_u64().unwrap())
        .sum();
    assert!(counts <= 36 && counts > 0);
    assert_eq!(before["scan_interval_s"], 0.3);
    assert!(before["generation"].is_string());

    // A scan this poll may have started ends long before the tree changes.
    std::thread::sleep(Duration::from_millis(600));
    let run = server.dir.path().join("runs/20261201/120000/newrun0001");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(
        run.join("sidecar.json"),
        r#"{"run_id": "newrun0001", "status": "running"}"#,
    )
    .unwrap();
    // Only the status the page polls starts a scan: a page of the table
    // answers from the cache as it is, at once.
    std::thread::sleep(Duration::from_millis(400));
    for _ in 0..3 {
        assert_eq!(server.get_json("/api/runs?limit=0")["total"], 36);
        std::thread::sleep(Duration::from_millis(150));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let after = loop {
        std::thread::sleep(Duration::from_millis(350));
        let status = server.get_json("/api/status");
        // The stamp is read before the counts (see status.rs): a scan that
        // ends between the two shows in the counts first, the stamp next.
        let changed = status["total"] == 37 && status["generation"] != before["generation"];
        if changed || Instant::now() > deadline {
            break status;
        }
    };
    assert_eq!(after["total"], 37);
    assert_ne!(after["generation"], before["generation"]);
    assert_eq!(server.get_json("/api/run/newrun0001")["status"], "running");
}

#[test]
fn without_scans_the_cache_is_served_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/cache/runs");
    copy_dir(&examples, &dir.path().join("runs"));
    Registry::open(dir.path()).unwrap();
    let run = dir.path().join("runs/20261201/120000/newrun0002");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(run.join("sidecar.json"), r#"{"run_id": "newrun0002"}"#).unwrap();
    let live = Live::open(
        Registry::builder(dir.path()),
        false,
        Duration::from_millis(1),
    )
    .unwrap();
    assert_eq!(live.interval(), None);
    let server = Server::new(TcpListener::bind("127.0.0.1:0").unwrap(), live, 1).unwrap();
    let running = Running {
        addr: server.addr(),
        token: server.token().as_str().to_owned(),
        dir,
    };
    std::thread::spawn(move || server.serve());
    for _ in 0..3 {
        let status = running.get_json("/api/status");
        assert_eq!(status["total"], 36);
        assert!(status["scan_interval_s"].is_null() && status["scanned_at"].is_null());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(running.get("/api/run/newrun0002").status, 404);
}
