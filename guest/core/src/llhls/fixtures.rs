//! Sample LL-HLS playlists shared by the unit tests.

/// Segments 10 and 11 complete (11 with two parts), two parts of segment 12 published, part 12.2 hinted.
pub const LIVE: &str = "#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:4
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.5,CAN-SKIP-UNTIL=24
#EXT-X-PART-INF:PART-TARGET=0.5
#EXT-X-MEDIA-SEQUENCE:10
#EXTINF:4.0,
seg10.m4s
#EXT-X-PART:DURATION=0.5,URI=\"part11.0.m4s\",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.5,URI=\"part11.1.m4s\"
#EXTINF:1.0,
seg11.m4s
#EXT-X-PART:DURATION=0.5,URI=\"part12.0.m4s\"
#EXT-X-PART:DURATION=0.5,URI=\"part12.1.m4s\"
#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part12.2.m4s\"
";
