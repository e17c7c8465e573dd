//! A live encoder for end-to-end tests: real ffmpeg pushing a test pattern and a tone into Strata.

use std::process::{Child, Command, Stdio};

use super::tail;

/// A live encoder running in the background; killed when dropped.
pub struct Encoder {
    child: Child,
    stderr: tempfile::NamedTempFile,
}

impl Encoder {
    /// `ffmpeg -re` with `seconds` of a 640x360 test pattern and a 440 Hz tone, 2 s GOPs, followed by
    /// `output` args.
    pub fn start(seconds: u32, output: &[&str]) -> Encoder {
        let stderr = tempfile::NamedTempFile::new().expect("temp file for ffmpeg stderr");
        let child = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-re"])
            .args(["-f", "lavfi", "-i", "testsrc=size=640x360:rate=25"])
            .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
            .args(["-t", &seconds.to_string()])
            .args([
                "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
            ])
            .args(["-g", "50", "-keyint_min", "50", "-sc_threshold", "0"])
            .args(["-b:v", "800k", "-maxrate", "880k", "-bufsize", "1200k"])
            .args(["-c:a", "aac", "-b:a", "96k", "-ac", "2"])
            .args(output)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr.reopen().expect("reopen ffmpeg stderr"))
            .spawn()
            .expect("spawn ffmpeg");
        Encoder { child, stderr }
    }

    /// [`Encoder::start`] pushing live HLS to `url` (its media playlist): 2 s segments, a 6-segment window,
    /// old segments deleted, and a multivariant playlist `master.m3u8` beside it.
    pub fn live_hls(seconds: u32, url: &str) -> Encoder {
        Encoder::start(
            seconds,
            &[
                "-hls_time",
                "2",
                "-hls_list_size",
                "6",
                "-hls_flags",
                "delete_segments",
                "-master_pl_name",
                "master.m3u8",
                "-method",
                "PUT",
                "-f",
                "hls",
                url,
            ],
        )
    }

    /// What the encoder said, and whether it is still running, for failure messages.
    pub fn describe(&mut self) -> String {
        let state = match self.child.try_wait().expect("poll ffmpeg") {
            None => "still running".to_owned(),
            Some(status) => format!("exited early: {status}"),
        };
        let stderr = std::fs::read_to_string(self.stderr.path()).unwrap_or_default();
        format!("ffmpeg {state}; its stderr:\n{}", tail(&stderr, 20))
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
