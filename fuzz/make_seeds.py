#!/usr/bin/env python3
"""Writes fuzz/seeds/: hand-made real messages and packets for each target (run once; the
files are checked in). SIP torture messages and the Chromium offer are not copied here:
scripts/fuzz.sh reads them from the test data where they live."""
import json, os, struct
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")
def w(target, name, data):
    d = os.path.join(root, target); os.makedirs(d, exist_ok=True)
    if isinstance(data, str): data = data.encode()
    open(os.path.join(d, name), "wb").write(data)

SDP_SIPP = ("v=0\r\no=trunk 1 1 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\nt=0 0\r\n"
            "m=audio 30000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
            "a=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n")
SDP_OURS = ("v=0\r\no=c2c 4242 1 IN IP4 198.51.100.1\r\ns=c2c\r\nc=IN IP4 198.51.100.1\r\nt=0 0\r\n"
            "m=audio 20000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
            "a=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n")
SDP_HOLD = ("v=0\r\no=trunk 1 2 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
            "m=audio 30000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendonly\r\n")

def invite(body=SDP_OURS):
    return ("INVITE sip:+4930123456@192.0.2.7:5060;user=phone SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKb1c2d3;rport\r\n"
            "Max-Forwards: 70\r\n"
            "From: \"Web caller\" <sip:+15550100000@c2c.test>;tag=ourtag1\r\n"
            "To: <sip:+4930123456@192.0.2.7>\r\n"
            "Call-ID: 5f1c0ffee@c2c\r\nCSeq: 1 INVITE\r\n"
            "Contact: <sip:c2c@198.51.100.1:5060>\r\n"
            "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, UPDATE\r\nSupported: 100rel, timer\r\n"
            "P-Asserted-Identity: <sip:+15550100000@c2c.test>\r\n"
            "Content-Type: application/sdp\r\n"
            f"Content-Length: {len(body)}\r\n\r\n{body}")
def response(status, cseq=1, method="INVITE", extra="", body=""):
    return (f"SIP/2.0 {status}\r\n"
            "Via: SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKb1c2d3;rport=5060;received=198.51.100.1\r\n"
            "From: \"Web caller\" <sip:+15550100000@c2c.test>;tag=ourtag1\r\n"
            "To: <sip:+4930123456@192.0.2.7>;tag=trunktag9\r\n"
            f"Call-ID: 5f1c0ffee@c2c\r\nCSeq: {cseq} {method}\r\n{extra}"
            + (f"Content-Type: application/sdp\r\n" if body else "")
            + f"Content-Length: {len(body)}\r\n\r\n{body}")
OK = response("200 OK", extra="Record-Route: <sip:192.0.2.9:5070;lr>, <sip:192.0.2.8;lr;ftag=x>\r\n"
              "Contact: <sip:callee@192.0.2.20:5080>\r\n", body=SDP_SIPP)
RINGING = response("180 Ringing")
PROGRESS = response("183 Session Progress", extra="Require: 100rel\r\nRSeq: 1\r\nContact: <sip:callee@192.0.2.20>\r\n", body=SDP_SIPP)
CHALLENGE = response("407 Proxy Authentication Required",
    extra='Proxy-Authenticate: Digest realm="trunk.example", nonce="abc123", algorithm=MD5, qop="auth"\r\n')
def request(method, cseq, to, extra="", via_host="198.51.100.1:5060", uri="sip:+4930123456@192.0.2.7"):
    return (f"{method} {uri} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {via_host};branch=z9hG4bKb{cseq}{method.lower()};rport\r\n"
            "Max-Forwards: 70\r\nFrom: \"Web caller\" <sip:+15550100000@c2c.test>;tag=ourtag1\r\n"
            f"To: {to}\r\nCall-ID: 5f1c0ffee@c2c\r\nCSeq: {cseq} {method}\r\n{extra}Content-Length: 0\r\n\r\n")
TO_TAGGED = "<sip:+4930123456@192.0.2.7>;tag=trunktag9"
ACK = request("ACK", 1, TO_TAGGED, uri="sip:callee@192.0.2.20:5080")
BYE_OUT = request("BYE", 2, TO_TAGGED, uri="sip:callee@192.0.2.20:5080", extra="Route: <sip:192.0.2.8;lr;ftag=x>\r\n")
BYE_IN = ("BYE sip:c2c@198.51.100.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bKtrunkbye\r\n"
          "Max-Forwards: 70\r\nFrom: <sip:+4930123456@192.0.2.7>;tag=trunktag9\r\n"
          "To: \"Web caller\" <sip:+15550100000@c2c.test>;tag=ourtag1\r\nCall-ID: 5f1c0ffee@c2c\r\n"
          "CSeq: 90 BYE\r\nContent-Length: 0\r\n\r\n")
REINVITE_HOLD = ("INVITE sip:c2c@198.51.100.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bKre\r\n"
          "From: <sip:+4930123456@192.0.2.7>;tag=trunktag9\r\nTo: \"Web caller\" <sip:+15550100000@c2c.test>;tag=ourtag1\r\n"
          "Call-ID: 5f1c0ffee@c2c\r\nCSeq: 91 INVITE\r\nContact: <sip:callee@192.0.2.20:5080>\r\n"
          f"Content-Type: application/sdp\r\nContent-Length: {len(SDP_HOLD)}\r\n\r\n{SDP_HOLD}")
OPTIONS = ("OPTIONS sip:c2c@198.51.100.1 SIP/2.0\r\nv: SIP/2.0/TCP [2001:db8::7]:5060;branch=z9hG4bKopt1\r\n"
           "f: <sip:ping@trunk.example>;tag=p1\r\nt: <sip:c2c@198.51.100.1>\r\ni: ping-1\r\nCSeq: 7 OPTIONS\r\nl: 0\r\n\r\n")
BYE_OK = response("200 OK", cseq=2, method="BYE").replace("<sip:+4930123456@192.0.2.7>;tag=trunktag9", TO_TAGGED)

for name, msg in [("invite_sent", invite()), ("ok_received", OK), ("ringing", RINGING), ("progress_100rel", PROGRESS),
                  ("challenge_407", CHALLENGE), ("ack_sent", ACK), ("bye_sent", BYE_OUT), ("bye_received", BYE_IN),
                  ("reinvite_hold", REINVITE_HOLD), ("options_compact", OPTIONS), ("bye_ok", BYE_OK)]:
    w("sip_datagram", name, msg)
w("sip_datagram", "keepalive", "\r\n\r\n")

# sip_stream: [n][n sizes][stream]
w("sip_stream", "invite_ok_ping_in_chunks", bytes([3, 7, 64, 200]) + (invite() + "\r\n\r\n" + OK + BYE_IN).encode())
w("sip_stream", "whole", bytes([0]) + (OPTIONS + OPTIONS).encode())
w("sip_stream", "bytewise", bytes([1, 1]) + BYE_IN.encode())

# sdp (the Chromium offer is copied from gateway/tests/fixtures by scripts/fuzz.sh)
w("sdp", "sipp_answer", SDP_SIPP)
w("sdp", "our_offer", SDP_OURS)
w("sdp", "hold_reoffer", SDP_HOLD)

# stun: [mode][datagrams sep by ff fe 'DG']
def attr(t, v):
    v = bytes(v); pad = (-len(v)) % 4
    return struct.pack(">HH", t, len(v)) + v + b"\0" * pad
ICE_ATTRS = attr(0x0024, struct.pack(">I", 2113937151)) + attr(0x802A, b"\x12\x34\x56\x78\x9a\xbc\xde\xf0") + attr(0x0025, b"")
TXID = bytes(range(1, 13))
w("stun", "wrapped_signed_binding", bytes([3]) + TXID + ICE_ATTRS)
w("stun", "wrapped_unsigned_binding", bytes([1]) + TXID + ICE_ATTRS)
def raw_binding(username):
    body = attr(0x0006, username) + ICE_ATTRS
    return struct.pack(">HHI", 1, len(body), 0x2112A442) + TXID + body
w("stun", "raw_binding_other_ufrag", bytes([0]) + raw_binding(b"zzzz:abcd"))
w("stun", "raw_binding_from_elsewhere", bytes([4]) + raw_binding(b"zzzz:abcd"))
dtls_hello = bytes([22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12]) + bytes([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
w("stun", "binding_then_dtls_then_rtp", bytes([3]) + TXID + ICE_ATTRS + b"\xff\xfeDG" + dtls_hello + b"\xff\xfeDG" + bytes([0x80, 0, 0, 1, 0, 0, 0, 160, 0, 0, 0x10, 0x01]) + b"\xff" * 160)

# rtp_rtcp: [mode][...]
def rtp(pt, seq, ts, ssrc, payload, marker=False, csrc=0, ext=None, pad=0):
    b0 = 0x80 | csrc | (0x10 if ext is not None else 0) | (0x20 if pad else 0)
    out = struct.pack(">BBHII", b0, pt | (0x80 if marker else 0), seq, ts, ssrc) + b"\0\0\0\x01" * csrc
    if ext is not None:
        out += struct.pack(">HH", 0xBEDE, len(ext) // 4) + ext
    out += payload
    if pad:
        out += b"\0" * (pad - 1) + bytes([pad])
    return out
PCMU = rtp(0, 1000, 160000, 0x11223344, b"\xff" * 160)
TE = rtp(101, 1001, 160160, 0x11223344, bytes([1, 0x0a, 0, 160]), marker=True)
EXT = rtp(0, 1002, 160320, 0x11223344, b"\x7f" * 160, csrc=2, ext=b"\x10\x22\x00\x00", pad=4)
def block(ssrc, frac, lost, jitter):
    return struct.pack(">IIIIII", ssrc, (frac << 24) | (lost & 0xffffff), 1000, jitter, 0, 0)
SR = struct.pack(">BBHI", 0x81, 200, 12, 0x55667788) + b"\0" * 12 + struct.pack(">II", 500, 80000) + block(0xAABBCCDD, 12, 3, 40)
RR = struct.pack(">BBHI", 0x81, 201, 7, 0x55667788) + block(0xAABBCCDD, 0, -1, 8)
SDES = struct.pack(">BBH", 0x81, 202, 2) + struct.pack(">I", 0x55667788) + b"\x01\x00\x00\x00"
w("rtp_rtcp", "rtp_pcmu", bytes([0]) + PCMU)
w("rtp_rtcp", "rtp_telephone_event", bytes([0]) + TE)
w("rtp_rtcp", "rtp_csrc_ext_padding", bytes([0]) + EXT)
w("rtp_rtcp", "rtcp_sr", bytes([0]) + SR)
w("rtp_rtcp", "rtcp_rr_sdes_compound", bytes([0]) + RR + SDES)
w("rtp_rtcp", "loss_sequence", bytes([0]) + b"".join(struct.pack(">IH", 1, s) for s in [10, 11, 13, 12, 65535, 0, 1]))
def step(kind, body):
    return bytes([kind]) + struct.pack(">H", len(body)) + body
script = (step(0, PCMU) + step(0, TE) + step(1, SR) + step(0, RR + SDES) + step(3, b"12#")
          + step(4, bytes([2, 2])) + step(4, bytes([10] * 10)) + step(2, PCMU) + step(5, bytes([0x07, 101]))
          + step(0, PCMU) + step(3, b"9") + step(5, bytes([0x03, 96])) + step(4, bytes([255] * 20)) + step(6, PCMU) + step(7, b""))
w("rtp_rtcp", "bridge_script", bytes([1]) + script)

# signalling_json
w("signalling_json", "call", json.dumps({"type": "call", "token": "eyJhbGciOiJFUzI1NiJ9.e30.sig", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}))
w("signalling_json", "dtmf", '{"type":"dtmf","digits":"0123456789*#ABCD"}')
w("signalling_json", "dtmf_bad", '{"type":"dtmf","digits":"12x"}')
w("signalling_json", "hangup", '{"type":"hangup"}')
w("signalling_json", "unknown_type", '{"type":"call","token":"a","sdp":"b","extra":[1,{"x":null}]}')

# call_token
claims = {"iss": "c2c-fuzz", "aud": "c2c-sbc", "sub": "ws_1", "org": "org_1", "cmp": "cmp_1", "num": "+15550000001",
          "ori": "https://shop.example", "iat": 1800000000, "nbf": 1800000000, "exp": 1800000060, "jti": "AAAAAAAAAAAAAAAAAAAAAA",
          "rte": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}
w("call_token", "arbitrary_jws", b"\x00" + b"eyJhbGciOiJFUzI1NiIsImtpZCI6ImZ1enpraWQifQ.eyJpc3MiOiJ4In0.c2ln\nhttps://shop.example")
w("call_token", "genuine", b"\x01")
w("call_token", "genuine_edited", b"\x01" + bytes([200, 0, ord("A"), 250, 1, ord("."), 10, 2, 0]))
w("call_token", "insider_claims", b"\x02" + json.dumps(claims, separators=(",", ":")).encode())
w("call_token", "insider_header_and_claims", b"\x03" + b'{"alg":"ES256","kid":"fuzzkid","typ":"JWT"}\n' + json.dumps(claims).encode())

# interrupted_dialog: messages sep by 0xff, first byte: bit0 sent, bits1-2 peer
SEP = b"\xff"
def rec(sent, text, peer=0):
    return bytes([(1 if sent else 0) | (peer << 1)]) + text.encode()
INVITE2 = invite().replace("CSeq: 1 INVITE", "CSeq: 2 INVITE").replace("z9hG4bKb1c2d3", "z9hG4bKb2")
OK2 = OK.replace("CSeq: 1 INVITE", "CSeq: 2 INVITE")
ACK2 = ACK.replace("CSeq: 1 ACK", "CSeq: 2 ACK")
BYE_OK3 = BYE_OK.replace("CSeq: 2 BYE", "CSeq: 3 BYE")
w("interrupted_dialog", "challenged_answered_call", SEP.join([rec(True, invite()), rec(False, CHALLENGE), rec(True, INVITE2),
    rec(True, INVITE2), rec(False, OK2), rec(True, ACK2), rec(False, REINVITE_HOLD), rec(False, BYE_OK3)]))
w("interrupted_dialog", "answered_call_ipv6_peer", SEP.join([rec(True, invite()), rec(False, RINGING, 1), rec(False, OK, 1), rec(True, ACK, 1)]))
w("interrupted_dialog", "bye_cut_short", SEP.join([rec(True, invite()), rec(False, OK), rec(True, ACK), rec(True, BYE_OUT)]))

# http_json: first line Origin, rest the body
w("http_json", "token_request", 'https://shop.example\n{"campaign":"sales","page_url":"https://shop.example/pricing?x=1","referrer":"https://www.google.com/","utm":{"source":"google","medium":"cpc","campaign":"spring"},"bot_token":"XXXX.DUMMY"}')
w("http_json", "token_request_minimal", 'http://localhost:8080\n{"campaign":"sales","page_url":"http://localhost:8080/"}')
w("http_json", "callback_request", 'https://shop.example\n{"campaign":"sales","phone":"+49 (30) 123-4567","name":"  Ann \\u0007Smith ","consent":true}')
w("http_json", "callback_bad_origin", 'null\n{"campaign":"sales","phone":"030 1234567"}')
print("ok")
