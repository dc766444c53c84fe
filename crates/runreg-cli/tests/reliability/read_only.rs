//! Item 4: read-only caches. A cache directory the user cannot write (a
//! colleague's runs, a read-only mount) is still queryable: the cache then
//! lives under `$XDG_CACHE_HOME/runreg/` (else `~/.cache/runreg/`), in a
//! folder named after the cache directory's canonical path, with a note on
//! stderr. Run as `nobody` when the tests run as root (root writes
//! anywhere), else with the directory made read-only.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use crate::common::Tree;
use crate::support::{
    NOBODY, Unprivileged, chown_tree, figure, get, is_root, items, open_tempdir, parse, run,
    runreg, snapshot, text,
};

/// Makes every directory under `path` 0755 and every file 0644, whatever
/// the umask it was written under.
fn readable_by_all(path: &Path) {
    let meta = fs::symlink_metadata(path).unwrap();
    if meta.is_dir() {
        fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
        for entry in fs::read_dir(path).unwrap() {
            readable_by_all(&entry.unwrap().path());
        }
    } else if meta.is_file() {
        fs::set_permissions(path, fs::Permissions::from_mode(0o644)).unwrap();
    }
}

/// Gives the directory back its write permission when the test ends, so
/// that it can be deleted.
struct Writable<'a>(&'a Path);

impl Drop for Writable<'_> {
    fn drop(&mut self) {
        let _ = fs::set_permissions(self.0, fs::Permissions::from_mode(0o755));
    }
}

/// A directory the unprivileged user owns (its home, its XDG cache).
fn own_dir() -> tempfile::TempDir {
    let dir = open_tempdir();
    if is_root() {
        chown_tree(dir.path(), NOBODY);
    }
    dir
}

/// The cache file named by the note `runreg: note: DIR is not writable: its
/// cache is kept in FILE`; checks the note names `cache_dir`.
fn relocated_to(stderr: &str, cache_dir: &Path) -> PathBuf {
    let prefix = format!(
        "runreg: note: {} is not writable: its cache is kept in ",
        cache_dir.display()
    );
    let line = stderr
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no note about the relocated cache: {stderr:?}"));
    assert_eq!(stderr.lines().count(), 1, "one note only: {stderr}");
    PathBuf::from(&line[prefix.len()..])
}

fn ids(stdout: &str) -> Vec<String> {
    let mut ids: Vec<String> = items(&parse(stdout))
        .iter()
        .map(|r| text(get(r, "run_id")).to_owned())
        .collect();
    ids.sort();
    ids
}

#[test]
fn a_cache_dir_the_user_cannot_write_is_queried_from_the_user_cache() {
    let tree = Tree::new();
    let mut expected = Vec::new();
    for i in 0..12 {
        let id = format!("colleague{i:02}");
        tree.run(&id)
            .tag("theirs")
            .metric("acc", f64::from(i))
            .write();
        expected.push(id);
    }
    let cache_dir = tree.cache_dir().canonicalize().unwrap();
    let user = Unprivileged::new();
    let _restore = Writable(&cache_dir);
    readable_by_all(&cache_dir);
    if !is_root() {
        fs::set_permissions(&cache_dir, fs::Permissions::from_mode(0o555)).unwrap();
    }
    let xdg = own_dir();
    let home = own_dir();
    let before = snapshot(&cache_dir);

    // $XDG_CACHE_HOME set: the cache goes under it.
    let out = run(user
        .runreg(&cache_dir)
        .args(["ls", "--json"])
        .env("XDG_CACHE_HOME", xdg.path())
        .env("HOME", home.path()));
    let db = relocated_to(&out.stderr, &cache_dir);
    assert_eq!(ids(&out.ok("ls as another user")), expected);
    let folder = db.parent().unwrap();
    assert_eq!(folder.parent().unwrap(), xdg.path().join("runreg"));
    let name = folder.file_name().unwrap().to_string_lossy().into_owned();
    let cache_name = cache_dir
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let (head, hash) = name.rsplit_once('-').unwrap();
    assert_eq!(head, cache_name.replace('.', "_"), "{name}");
    assert!(
        hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
        "{name}"
    );
    assert!(db.is_file(), "{}", db.display());
    assert_eq!(
        snapshot(&cache_dir),
        before,
        "the cache directory was written"
    );

    // The relocated cache is reused: a scan finds nothing new.
    let out = run(user
        .runreg(&cache_dir)
        .args(["scan", "--json"])
        .env("XDG_CACHE_HOME", xdg.path())
        .env("HOME", home.path()));
    assert_eq!(relocated_to(&out.stderr, &cache_dir), db);
    let report = crate::support::json(&out.ok("scan as another user"));
    assert_eq!(report["total_sidecars"], expected.len(), "{report}");
    assert_eq!(report["upserted"], 0, "{report}");

    // Keyed by the canonical path: the same cache through a symlink.
    let links = open_tempdir();
    let link = links.path().join("their-runs");
    symlink(&cache_dir, &link).unwrap();
    let out = run(user
        .runreg(&link)
        .args(["ls", "--json"])
        .env("XDG_CACHE_HOME", xdg.path())
        .env("HOME", home.path()));
    assert_eq!(relocated_to(&out.stderr, &cache_dir), db);
    assert_eq!(ids(&out.ok("ls through a symlink")), expected);

    // No $XDG_CACHE_HOME: under ~/.cache.
    let out = run(user
        .runreg(&cache_dir)
        .args(["ls", "--json"])
        .env_remove("XDG_CACHE_HOME")
        .env("HOME", home.path()));
    let in_home = relocated_to(&out.stderr, &cache_dir);
    assert_eq!(ids(&out.ok("ls with HOME only")), expected);
    assert_eq!(
        in_home,
        home.path()
            .join(".cache/runreg")
            .join(&name)
            .join("registry.redb")
    );

    // The colleague's own cache beside the runs is neither used nor
    // touched.
    if is_root() {
        let out = run(runreg(&cache_dir).args(["scan"]));
        out.ok("the owner's scan");
    } else {
        fs::set_permissions(&cache_dir, fs::Permissions::from_mode(0o755)).unwrap();
        run(runreg(&cache_dir).args(["scan"])).ok("the owner's scan");
        readable_by_all(&cache_dir);
        // The owner is this user: take the write permission from its files.
        for name in ["registry.redb", "registry.redb.lock"] {
            let file = cache_dir.join(name);
            fs::set_permissions(file, fs::Permissions::from_mode(0o444)).unwrap();
        }
        fs::set_permissions(&cache_dir, fs::Permissions::from_mode(0o555)).unwrap();
    }
    let theirs = snapshot(&cache_dir);
    assert!(theirs.contains_key(Path::new("registry.redb")));
    let out = run(user
        .runreg(&cache_dir)
        .args(["ls", "--json"])
        .env("XDG_CACHE_HOME", xdg.path())
        .env("HOME", home.path()));
    assert_eq!(relocated_to(&out.stderr, &cache_dir), db);
    assert_eq!(ids(&out.ok("ls beside the owner's cache")), expected);
    assert_eq!(
        snapshot(&cache_dir),
        theirs,
        "the owner's cache was touched"
    );

    // Under umask 000, nothing runreg creates for the user is
    // world-writable.
    let fresh = own_dir();
    let out = run(user
        .command(Some(0o000))
        .arg("--cache-dir")
        .arg(&cache_dir)
        .args(["ls", "--json"])
        .env("XDG_CACHE_HOME", fresh.path())
        .env("HOME", home.path()));
    let created = relocated_to(&out.stderr, &cache_dir);
    out.ok("ls under umask 000");
    let mut lock = created.clone().into_os_string();
    lock.push(".lock");
    for path in [
        fresh.path().join("runreg"),
        created.parent().unwrap().to_path_buf(),
        created.clone(),
        PathBuf::from(lock),
    ] {
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode & 0o002,
            0,
            "{} is world-writable ({mode:o})",
            path.display()
        );
    }

    figure!(
        "read-only cache dir: queried as",
        "{} (cache in $XDG_CACHE_HOME/runreg/ and ~/.cache/runreg/; the cache dir unchanged)",
        if is_root() {
            "nobody (uid 65534), dropped from root"
        } else {
            "this user, the dir chmod 0555"
        }
    );
}

#[test]
fn a_cache_dir_the_user_cannot_write_and_no_home_is_an_error_naming_db() {
    let tree = Tree::new();
    tree.run("theirs").write();
    let cache_dir = tree.cache_dir().canonicalize().unwrap();
    let user = Unprivileged::new();
    let _restore = Writable(&cache_dir);
    readable_by_all(&cache_dir);
    if !is_root() {
        fs::set_permissions(&cache_dir, fs::Permissions::from_mode(0o555)).unwrap();
    }
    let before = snapshot(&cache_dir);
    let out = run(user
        .runreg(&cache_dir)
        .args(["ls", "--json"])
        .env_remove("XDG_CACHE_HOME")
        .env_remove("HOME"));
    assert_eq!(out.code, Some(1), "{out:?}");
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        format!(
            "runreg: {}: not writable, and neither XDG_CACHE_HOME nor HOME is set to hold the cache elsewhere (use --db FILE)\n",
            cache_dir.display()
        )
    );
    assert_eq!(
        snapshot(&cache_dir),
        before,
        "the cache directory was written"
    );
}
