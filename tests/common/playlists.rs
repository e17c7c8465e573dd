//! Playlists several end-to-end tests store and read back.

/// A multivariant playlist of two renditions, 720p (`hi/`) and 360p (`lo/`).
pub const MULTIVARIANT: &str = "#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=3000000,RESOLUTION=1280x720,CODECS=\"avc1.64001f,mp4a.40.2\"
hi/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS=\"avc1.64001e,mp4a.40.2\"
lo/index.m3u8
";

/// A live media playlist of three 4 s segments from 2024-05-01T12:00:00Z, for time-shift windows.
pub const LIVE: &str = "#EXTM3U
#EXT-X-TARGETDURATION:4
#EXT-X-MEDIA-SEQUENCE:10
#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00Z
#EXTINF:4,
s10.ts
#EXTINF:4,
s11.ts
#EXTINF:4,
s12.ts
";

/// An LL-HLS media playlist that blocks reloads: `parts` parts of segment 0 (`0.N.m4s`, 0.5 s each) and
/// the preload hint of the next.
pub fn ll_hls(parts: u64) -> String {
    let mut text = String::from(
        "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n\
         #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.5\n\
         #EXT-X-PART-INF:PART-TARGET=0.5\n#EXT-X-MEDIA-SEQUENCE:0\n",
    );
    for p in 0..parts {
        text.push_str(&format!("#EXT-X-PART:DURATION=0.5,URI=\"0.{p}.m4s\"\n"));
    }
    text.push_str(&format!(
        "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"0.{parts}.m4s\"\n"
    ));
    text
}
