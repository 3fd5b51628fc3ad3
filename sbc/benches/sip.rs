//! SIP parse and serialise of the two messages every call carries: our INVITE (with SDP and
//! the web-context headers) and the trunk's 200 OK (with SDP).

use c2c_sbc::sip::Message;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

const SDP: &str = "v=0\r\n\
o=c2c 4858949 4858949 IN IP4 127.0.0.1\r\n\
s=c2c\r\n\
c=IN IP4 127.0.0.1\r\n\
t=0 0\r\n\
m=audio 40002 RTP/AVP 0 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";

fn invite() -> String {
    format!(
        "INVITE sip:+15551230000@127.0.0.1:5070 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
From: \"Web caller\" <sip:+15557770000@c2c.test>;tag=1928301774\r\n\
To: <sip:+15551230000@127.0.0.1:5070>\r\n\
Call-ID: a84b4c76e66710@c2c.test\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:c2c@127.0.0.1:5060>\r\n\
P-Asserted-Identity: <sip:+15557770000@c2c.test>\r\n\
X-C2C-Session: ws_0123456789abcdef0123456789abcdef\r\n\
X-C2C-Campaign: sales\r\n\
X-C2C-Page: https://shop.example/products/blue-widget?utm_source=news\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, PRACK, INFO\r\n\
Supported: 100rel, timer\r\n\
User-Agent: c2c\r\n\
Content-Type: application/sdp\r\n\
Content-Length: {}\r\n\r\n{SDP}",
        SDP.len()
    )
}

fn ok_200() -> String {
    format!(
        "SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK776asdhds;rport=5060;received=127.0.0.1\r\n\
From: \"Web caller\" <sip:+15557770000@c2c.test>;tag=1928301774\r\n\
To: <sip:+15551230000@127.0.0.1:5070>;tag=a6c85cf\r\n\
Call-ID: a84b4c76e66710@c2c.test\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:127.0.0.1:5070;transport=UDP>\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS\r\n\
Content-Type: application/sdp\r\n\
Content-Length: {}\r\n\r\n{SDP}",
        SDP.len()
    )
}

fn bench(c: &mut Criterion) {
    for (name, text) in [("invite", invite()), ("ok_200", ok_200())] {
        let bytes = text.into_bytes();
        let parsed = Message::parse(&bytes).expect("the sample parses");
        let mut group = c.benchmark_group(format!("sip_{name}"));
        group.throughput(Throughput::Elements(1));
        group.bench_function("parse", |b| {
            b.iter(|| Message::parse(black_box(&bytes)).expect("parses"))
        });
        group.bench_function("serialise", |b| b.iter(|| black_box(&parsed).to_bytes()));
        group.bench_function("parse_and_serialise", |b| {
            b.iter(|| {
                Message::parse(black_box(&bytes))
                    .expect("parses")
                    .to_bytes()
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
