//! Shared helpers for the black-box tests: the `bando` binary, throwaway databases on the test
//! PostGIS (`TEST_DATABASE_URL`, started by `scripts/test.sh`), and a running server.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The sample data folder.
pub fn samples() -> PathBuf {
    repo().join("data-samples")
}

/// The `bando` binary that `scripts/test.sh` builds before the tests (or `BANDO_BIN`).
pub fn bando_bin() -> PathBuf {
    let bin = std::env::var_os("BANDO_BIN").map_or_else(|| repo().join("target/debug/bando"), PathBuf::from);
    assert!(bin.exists(), "{} is missing: run the tests with scripts/test.sh (it builds bando first)", bin.display());
    bin
}

/// The `bando` that `cargo install --path server` installed (`scripts/test.sh` installs it
/// under `target/installed`, or `INSTALLED_BANDO`), run from `/` with a clean environment: the
/// one binary, away from the source tree.
pub fn installed_bando(args: &[&str]) -> Command {
    let bin =
        std::env::var_os("INSTALLED_BANDO").map_or_else(|| repo().join("target/installed/bin/bando"), PathBuf::from);
    assert!(bin.exists(), "{} is missing: run the tests with scripts/test.sh (it installs bando first)", bin.display());
    let mut cmd = Command::new(bin);
    cmd.args(args).current_dir("/").env_remove("DATABASE_URL").env_remove("BANDO_CONFIG").env("RUST_LOG", "warn");
    cmd
}

/// A `bando` command with a clean environment: no inherited database or config.
pub fn bando(args: &[&str]) -> Command {
    let mut cmd = Command::new(bando_bin());
    cmd.args(args).env_remove("DATABASE_URL").env_remove("BANDO_CONFIG").env("RUST_LOG", "warn");
    cmd
}

/// Runs a command and returns its output, whatever the exit status.
pub fn output(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("running {cmd:?}: {e}"))
}

/// Stdout of a command that must succeed.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = output(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A database of its own for one test, dropped at the end.
pub struct TestDb {
    /// Its URL.
    pub url: String,
    admin: String,
    name: String,
}

impl TestDb {
    /// Creates an empty database on the test server.
    pub fn new() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let admin = std::env::var("TEST_DATABASE_URL")
            .expect("TEST_DATABASE_URL is not set: run the tests with scripts/test.sh, which starts a PostGIS");
        let name = format!("bando_t{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        psql(&admin, &format!("CREATE DATABASE {name}"));
        let (server, _) = admin.rsplit_once('/').unwrap();
        Self { url: format!("{server}/{name}"), admin, name }
    }

    /// Runs SQL and returns psql's unaligned output.
    pub fn sql(&self, sql: &str) -> String {
        psql(&self.url, sql)
    }

    /// A `bando` command pointed at this database.
    pub fn bando(&self, args: &[&str]) -> Command {
        let mut cmd = bando(args);
        cmd.env("DATABASE_URL", &self.url);
        cmd
    }
}

impl Default for TestDb {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args(["-q", &self.admin, "-c", &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)])
            .output();
    }
}

/// Runs SQL with psql (tuples only, unaligned) and returns the trimmed output.
pub fn psql(url: &str, sql: &str) -> String {
    run_ok(Command::new("psql").args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", url, "-c", sql])).trim().to_owned()
}

/// Runs a long SQL text fed to psql on stdin (too long for a command line).
pub fn psql_stdin(url: &str, sql: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", url, "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(sql.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "psql failed");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// An admin key the test servers started with [`Server::start_admin`] accept.
pub const ADMIN_KEY: &str = "bando_testadmin_0000000000000000000000000000000000000000000000000000000000000000";
const ADMIN_HASH: &str = "sha256:5e9d7ba09e59e8dd14e05e06184e854f43664538f3a226d08c2a6de0de73f2a2";

/// A running `bando serve`, stopped when dropped.
pub struct Server {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    child: Child,
    /// The key every request of [`Server::get`] carries.
    key: Option<&'static str>,
}

impl Server {
    /// Starts `bando serve` on a free loopback port and waits until `/ready` answers 200.
    pub fn start(cmd: Command) -> Self {
        Self::start_with_stderr(cmd, Stdio::inherit())
    }

    /// [`Server::start`], its log (standard error) going to `log`.
    pub fn start_logging_to(cmd: Command, log: &Path) -> Self {
        Self::start_with_stderr(cmd, std::fs::File::create(log).unwrap().into())
    }

    fn start_with_stderr(mut cmd: Command, stderr: Stdio) -> Self {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let base = format!("http://127.0.0.1:{port}");
        let child = cmd
            .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let mut server = Self { base, child, key: None };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if reqwest::blocking::get(format!("{}/ready", server.base)).is_ok_and(|r| r.status() == 200) {
                return server;
            }
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!("bando exited with {status} before it was ready (its stderr is above)");
            }
            assert!(Instant::now() < deadline, "bando did not become ready within 60 s");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Starts `bando serve` with an admin key added to its configuration (through the
    /// environment); [`Server::get`] then sends it, so every layer and property is visible.
    pub fn start_admin(cmd: Command) -> Self {
        Self::admin(cmd, Stdio::inherit())
    }

    /// [`Server::start_admin`], its log (standard error) going to `log`.
    pub fn start_admin_logging_to(cmd: Command, log: &Path) -> Self {
        Self::admin(cmd, std::fs::File::create(log).unwrap().into())
    }

    fn admin(mut cmd: Command, stderr: Stdio) -> Self {
        cmd.env("BANDO_KEYS", format!("[{{id=\"testadmin\", role=\"admin\", hash=\"{ADMIN_HASH}\"}}]"));
        let mut server = Self::start_with_stderr(cmd, stderr);
        server.key = Some(ADMIN_KEY);
        server
    }

    /// Waits for the server to exit by itself, and its status.
    pub fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the server did not exit within {within:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory of the server process, in MB.
    pub fn rss_mb(&self) -> u64 {
        self.status_mb("VmRSS:")
    }

    /// The server's peak resident memory since it started or since [`Server::reset_peak_rss`], in MB.
    pub fn peak_rss_mb(&self) -> u64 {
        self.status_mb("VmHWM:")
    }

    /// Starts the peak resident memory afresh from what the server holds now (Linux's `clear_refs`).
    pub fn reset_peak_rss(&self) {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5").unwrap();
    }

    /// A memory field of `/proc/PID/status`, in MB.
    fn status_mb(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap();
        kb / 1024
    }

    /// GET a path, returning the response.
    pub fn get(&self, path: &str) -> reqwest::blocking::Response {
        let mut request = reqwest::blocking::Client::new().get(format!("{}{path}", self.base));
        if let Some(key) = self.key {
            request = request.header("x-api-key", key);
        }
        request.send().unwrap()
    }

    /// GET a path with this key (or none) and these headers.
    pub fn get_as(&self, path: &str, key: Option<&str>, headers: &[(&str, &str)]) -> reqwest::blocking::Response {
        let mut request = reqwest::blocking::Client::new().get(format!("{}{path}", self.base));
        for (name, value) in key.map(|k| ("x-api-key", k)).iter().chain(headers) {
            request = request.header(*name, *value);
        }
        request.send().unwrap()
    }

    /// GET a path that must answer 200 with JSON.
    pub fn json(&self, path: &str) -> serde_json::Value {
        let r = self.get(path);
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The layer ids the sample configuration declares, read from the file itself.
pub fn sample_layer_ids() -> Vec<String> {
    let text = std::fs::read_to_string(samples().join("bando.toml")).unwrap();
    let mut ids: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("[layers.").and_then(|r| r.strip_suffix(']')))
        .map(str::to_owned)
        .collect();
    ids.sort();
    ids
}

/// The feature ids of the vector tile at `path` (`/tiles/...mvt`), decoded by GDAL; none for an
/// empty tile.
pub fn tile_ids(server: &Server, path: &str) -> Vec<i64> {
    let r = server.get(path);
    if r.status() == 204 {
        return Vec::new();
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.mvt");
    std::fs::write(&file, r.bytes().unwrap()).unwrap();
    let text = run_ok(Command::new("ogrinfo").args(["-ro", "-al", "-q", "-oo", "CLIP=NO"]).arg(&file));
    text.lines().filter_map(|l| l.trim().strip_prefix("mvt_id (Integer64) = ")).map(|v| v.parse().unwrap()).collect()
}

/// Feature count of a file as GDAL's `ogrinfo` reports it (an independent count).
pub fn ogr_feature_count(path: &Path) -> u64 {
    let info = run_ok(Command::new("ogrinfo").args(["-ro", "-so", "-al"]).arg(path));
    info.lines()
        .find_map(|l| l.strip_prefix("Feature Count: "))
        .unwrap_or_else(|| panic!("no feature count in ogrinfo output for {}", path.display()))
        .trim()
        .parse()
        .unwrap()
}
