//! A real baresip softphone as a call-centre agent: registers with digest, answers calls on
//! its own, plays a known sound as its microphone and records what it hears.
//!
//! Written for baresip 1.0 (Debian 12). No sound card and no UI: the microphone is baresip's
//! `ausine`/`aufile`/`aubridge` source, the speaker an unpaired `aubridge` player, and
//! `sndfile` records the decoded audio of every call as `dump-<time>-dec.wav`. Each phone
//! binds its own loopback address (127.0.0.X) for SIP and media, so the gateway can tell
//! phones apart by source address. Commands (answer, hang up, dial) go over `ctrl_tcp`.
//!
//! Quirk: baresip 1.0's digest code gives up on a 401 carrying any non-MD5 challenge
//! ("Register: Function not implemented"), so its registrar must offer only MD5.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// How long baresip may take to load its modules and open its sockets.
const START_LIMIT: Duration = Duration::from_secs(10);
/// How often the log is read while waiting for a line.
const POLL: Duration = Duration::from_millis(50);
/// RTP ports per phone (RTP and RTCP for a few calls).
const RTP_PORTS: u16 = 8;

/// What a phone sends as its microphone.
#[derive(Debug, Clone, PartialEq)]
pub enum Microphone {
    /// An endless sine of this frequency in Hz (`ausine`).
    Sine(u32),
    /// A 16-bit PCM WAV file (`aufile`). baresip hangs up when the file ends, so it must
    /// outlast the call.
    Wav(PathBuf),
    /// Sends back what it hears (`aubridge` from its player to its source).
    Echo,
    /// Sends no RTP at all.
    Silent,
}

/// How to start a phone; `AgentOptions::new` fills in the defaults.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    /// The SIP username (user part of the address-of-record and digest username).
    pub username: String,
    /// The digest password.
    pub password: String,
    /// The registrar's UDP address; `None` registers nowhere (for calls straight to it).
    pub registrar: Option<SocketAddr>,
    /// The domain of the address-of-record, e.g. the realm; default the registrar's IP.
    pub domain: Option<String>,
    /// Its loopback address (127.0.0.X, X ≥ 2); default one picked at random.
    pub ip: Option<Ipv4Addr>,
    /// Its SIP port; default a free one.
    pub port: Option<u16>,
    /// Answer incoming calls at once (else ring until `answer`).
    pub auto_answer: bool,
    /// What it sends.
    pub microphone: Microphone,
    /// Where the recordings go; default a folder in its temp dir (removed on drop).
    pub record_dir: Option<PathBuf>,
    /// Registration interval in seconds (the Expires it asks for).
    pub regint: u32,
    /// More modules to load, e.g. `opus.so` (G.711 only otherwise).
    pub extra_modules: Vec<String>,
}

impl AgentOptions {
    /// A phone for `username`/`password` registering at `registrar`, auto-answering, with a
    /// 440 Hz sine as its microphone.
    pub fn new(username: &str, password: &str, registrar: Option<SocketAddr>) -> Self {
        Self {
            username: username.to_owned(),
            password: password.to_owned(),
            registrar,
            domain: None,
            ip: None,
            port: None,
            auto_answer: true,
            microphone: Microphone::Sine(440),
            record_dir: None,
            regint: 300,
            extra_modules: Vec::new(),
        }
    }
}

/// A running baresip; killed when dropped.
pub struct Baresip {
    child: Child,
    /// Its loopback address: SIP, RTP and the control socket.
    pub ip: Ipv4Addr,
    /// Its SIP port (UDP and TCP; TLS takes the next one).
    pub port: u16,
    /// Its `ctrl_tcp` port.
    pub ctrl_port: u16,
    /// Its first RTP port; it uses `RTP_PORTS` from there.
    pub rtp_port: u16,
    /// The SIP username.
    pub username: String,
    /// Its address-of-record without `sip:` (`user@domain`), as baresip prints it.
    pub aor: String,
    log: PathBuf,
    record_dir: PathBuf,
    next_token: u32,
    // Last: removed after the process is killed.
    dir: tempfile::TempDir,
}

impl Baresip {
    /// Writes a config dir for `opts` and starts `baresip -f` on it; returns once it is ready
    /// (modules loaded, sockets open), or an error with its log. Picks new ports and tries
    /// again when one was taken in the meantime.
    pub async fn start(opts: AgentOptions) -> Result<Baresip, String> {
        if opts.password.contains([';', '"', '>', ' ', '\t', '\n']) {
            return Err("the password would break baresip's accounts line".into());
        }
        let mut last = String::new();
        for _ in 0..3 {
            match Self::try_start(&opts).await {
                Ok(phone) => return Ok(phone),
                Err((log, retry)) if retry => last = log,
                Err((log, _)) => return Err(log),
            }
        }
        Err(format!("baresip kept finding its ports taken:\n{last}"))
    }

    /// One start; on failure the log and whether a port clash is to blame.
    async fn try_start(opts: &AgentOptions) -> Result<Baresip, (String, bool)> {
        let fail = |e: String| (e, false);
        let ip = opts.ip.unwrap_or_else(pick_loopback);
        let port = match opts.port {
            Some(p) => p,
            None => free_sip_port(ip).map_err(fail)?,
        };
        let rtp_port = free_udp_range(ip, RTP_PORTS).map_err(fail)?;
        let ctrl_port = free_tcp_on(ip).map_err(fail)?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("c2c-e2e-baresip-{}-", opts.username))
            .tempdir()
            .map_err(|e| fail(format!("temp dir: {e}")))?;
        let record_dir = opts
            .record_dir
            .clone()
            .unwrap_or_else(|| dir.path().join("recordings"));
        std::fs::create_dir_all(&record_dir).map_err(|e| fail(format!("record dir: {e}")))?;
        let domain = match (&opts.domain, opts.registrar) {
            (Some(d), _) => d.clone(),
            (None, Some(r)) => r.ip().to_string(),
            (None, None) => format!("{ip}:{port}"),
        };
        let aor = format!("{}@{domain}", opts.username);
        let layout = Layout {
            ip,
            port,
            rtp_port,
            ctrl_port,
            record_dir: &record_dir,
        };
        let config = config_text(&layout, opts).map_err(fail)?;
        let write = |name: &str, text: &str| {
            std::fs::write(dir.path().join(name), text).map_err(|e| fail(format!("{name}: {e}")))
        };
        write("config", &config)?;
        write("accounts", &account_line(opts, &aor))?;
        write("contacts", "")?;

        let log = dir.path().join("baresip.log");
        let out = std::fs::File::create(&log).map_err(|e| fail(format!("log: {e}")))?;
        let err = out.try_clone().map_err(|e| fail(format!("log: {e}")))?;
        // `-s`: the SIP trace goes to the log too, for whoever debugs a failed test. Line
        // buffered (`stdbuf`): into a file, stdio holds the last lines back until 4 KiB
        // follow, and a test waiting for "terminated" after the last call never sees it.
        let child = Command::new("stdbuf")
            .args(["-oL", "-eL", "baresip"])
            .arg("-f")
            .arg(dir.path())
            .arg("-s")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                fail(format!(
                    "baresip is required (apt-get install baresip; scripts/setup.sh does): {e}"
                ))
            })?;
        let mut phone = Baresip {
            child,
            ip,
            port,
            ctrl_port,
            rtp_port,
            username: opts.username.clone(),
            aor,
            log,
            record_dir,
            next_token: 0,
            dir,
        };
        let deadline = tokio::time::Instant::now() + START_LIMIT;
        loop {
            let text = phone.log_text();
            // baresip 1.0 stays up, doing nothing, when its SIP stack fails to start.
            let clash = text.contains("Address already in use");
            if clash || text.contains("init failed") || text.contains("failed to listen") {
                phone.kill().await;
                return Err((format!("baresip did not start:\n{text}"), clash));
            }
            if text.contains("baresip is ready.") {
                return Ok(phone);
            }
            if let Ok(Some(status)) = phone.child.try_wait() {
                return Err((format!("baresip exited ({status}):\n{text}"), false));
            }
            if tokio::time::Instant::now() > deadline {
                phone.kill().await;
                return Err((
                    format!("baresip not ready in {START_LIMIT:?}:\n{text}"),
                    false,
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Its SIP address for calls straight to it: `sip:user@127.0.0.X:port`.
    pub fn uri(&self) -> String {
        format!("sip:{}@{}:{}", self.username, self.ip, self.port)
    }

    /// Its SIP socket, the source the registrar sees.
    pub fn sip_addr(&self) -> SocketAddr {
        SocketAddr::from((self.ip, self.port))
    }

    /// Its config dir (`config`, `accounts`, `baresip.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Its log path: stdout and stderr, with the SIP trace.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Its log so far, without terminal colour codes.
    pub fn log_text(&self) -> String {
        strip_ansi(&std::fs::read_to_string(&self.log).unwrap_or_default())
    }

    /// Successful REGISTERs (and refreshes) so far: baresip prints
    /// `user@domain: {0/UDP/v4} 200 OK () [1 binding]`.
    pub fn registrations(&self) -> usize {
        let prefix = format!("{}: {{", self.aor);
        self.lines(|l| l.starts_with(&prefix) && l.contains(" binding"))
    }

    /// Failed REGISTERs so far, e.g. `reg: sip:user@domain: 403 Forbidden ()`.
    pub fn registration_failures(&self) -> Vec<String> {
        let prefix = format!("reg: sip:{}: ", self.aor);
        self.log_text()
            .lines()
            .filter(|l| l.starts_with(&prefix))
            .map(|l| l[prefix.len()..].trim().to_owned())
            .collect()
    }

    /// Calls ringing so far, with auto-answer off (`Incoming call from: …`).
    pub fn calls_incoming(&self) -> usize {
        self.lines(|l| l.contains(": Incoming call from: "))
    }

    /// Calls answered so far, by it or by the callee it dialled (`Call established: …`).
    pub fn calls_answered(&self) -> usize {
        self.lines(|l| l.contains(": Call established: "))
    }

    /// Calls ended so far (`Call with … terminated (duration: N secs)`).
    pub fn calls_ended(&self) -> usize {
        self.lines(|l| l.contains(" terminated (duration: "))
    }

    fn lines(&self, pred: impl Fn(&str) -> bool) -> usize {
        self.log_text().lines().filter(|l| pred(l)).count()
    }

    /// Waits up to `limit` for its first successful registration; fails at once on a
    /// refusal (wrong password, back-off) before any success.
    pub async fn wait_registered(&self, limit: Duration) -> Result<(), String> {
        self.wait_for("registered", limit, |p| {
            if p.registrations() > 0 {
                return Some(Ok(()));
            }
            let failed = p.registration_failures();
            (!failed.is_empty()).then(|| Err(format!("registration refused: {failed:?}")))
        })
        .await
    }

    /// Waits up to `limit` for a refused registration; returns baresip's reason
    /// (`401 Unauthorized`, `403 Forbidden ()`, …).
    pub async fn wait_registration_failed(&self, limit: Duration) -> Result<String, String> {
        self.wait_for("a refused registration", limit, |p| {
            if p.registrations() > 0 {
                return Some(Err("it registered".to_owned()));
            }
            p.registration_failures().into_iter().next().map(Ok)
        })
        .await
    }

    /// Waits up to `limit` for its first call to be ringing (auto-answer off).
    pub async fn wait_incoming_call(&self, limit: Duration) -> Result<(), String> {
        self.wait_count("an incoming call", limit, 1, Self::calls_incoming)
            .await
    }

    /// Waits up to `limit` until at least one call has been established.
    pub async fn wait_call_established(&self, limit: Duration) -> Result<(), String> {
        self.wait_calls_answered(1, limit).await
    }

    /// Waits up to `limit` until at least `n` calls have been established.
    pub async fn wait_calls_answered(&self, n: usize, limit: Duration) -> Result<(), String> {
        self.wait_count("established calls", limit, n, Self::calls_answered)
            .await
    }

    /// Waits up to `limit` until at least `n` calls have ended.
    pub async fn wait_calls_ended(&self, n: usize, limit: Duration) -> Result<(), String> {
        self.wait_count("ended calls", limit, n, Self::calls_ended)
            .await
    }

    async fn wait_count(
        &self,
        what: &str,
        limit: Duration,
        n: usize,
        count: fn(&Self) -> usize,
    ) -> Result<(), String> {
        self.wait_for(what, limit, |p| (count(p) >= n).then_some(Ok(())))
            .await
    }

    /// Polls `check` on the log until it gives an answer or `limit` passes.
    async fn wait_for<T>(
        &self,
        what: &str,
        limit: Duration,
        check: impl Fn(&Self) -> Option<Result<T, String>>,
    ) -> Result<T, String> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(answer) = check(self) {
                return answer.map_err(|e| format!("{e}; baresip's log:\n{}", self.log_text()));
            }
            if tokio::time::Instant::now() > deadline {
                return Err(format!(
                    "baresip: no {what} in {limit:?}; its log:\n{}",
                    self.log_text()
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Its recordings of what it heard, one per call, oldest first.
    pub fn recordings(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.record_dir)
            .map(|dir| {
                dir.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.to_string_lossy().ends_with("-dec.wav"))
                    .collect()
            })
            .unwrap_or_default();
        // Named `dump-YYYY-MM-DD-HH-MM-SS-dec.wav`: by name is by time. Two calls starting
        // in the same second share one file.
        files.sort();
        files
    }

    /// The recording of what it heard in its latest call. Written as the call goes; the WAV
    /// header's sizes are filled in only when the call ends (`analyse_tone` copes).
    pub fn recorded(&self) -> Option<PathBuf> {
        self.recordings().pop()
    }

    /// Sends a command over `ctrl_tcp` (e.g. `accept`, `hangup`, `dial` with a URI); returns
    /// its output, or an error when baresip refuses it.
    pub async fn command(&mut self, command: &str, params: &str) -> Result<String, String> {
        self.next_token += 1;
        let token = format!("t{}", self.next_token);
        let limit = Duration::from_secs(5);
        tokio::time::timeout(limit, self.command_inner(command, params, &token))
            .await
            .map_err(|_| format!("baresip did not answer `{command}` in {limit:?}"))?
    }

    async fn command_inner(
        &self,
        command: &str,
        params: &str,
        token: &str,
    ) -> Result<String, String> {
        let mut stream = TcpStream::connect((self.ip, self.ctrl_port))
            .await
            .map_err(|e| format!("ctrl_tcp connect: {e}"))?;
        let body =
            serde_json::json!({ "command": command, "params": params, "token": token }).to_string();
        let frame = format!("{}:{body},", body.len());
        stream
            .write_all(frame.as_bytes())
            .await
            .map_err(|e| format!("ctrl_tcp write: {e}"))?;
        // Netstrings back: events interleaved with our response.
        let mut buf = Vec::new();
        loop {
            while let Some((msg, rest)) = netstring(&buf) {
                let value: serde_json::Value = serde_json::from_slice(msg).unwrap_or_default();
                buf = rest.to_vec();
                if value["response"] == true && value["token"] == token {
                    let data = value["data"].as_str().unwrap_or_default().to_owned();
                    return match value["ok"] == true {
                        true => Ok(data),
                        false => Err(format!("baresip refused `{command}`: {data}")),
                    };
                }
            }
            let mut chunk = [0u8; 4096];
            let n = stream
                .read(&mut chunk)
                .await
                .map_err(|e| format!("ctrl_tcp read: {e}"))?;
            if n == 0 {
                return Err("ctrl_tcp closed before the response".into());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Answers the ringing call.
    pub async fn answer(&mut self) -> Result<String, String> {
        self.command("accept", "").await
    }

    /// Hangs up its current call.
    pub async fn hangup(&mut self) -> Result<String, String> {
        self.command("hangup", "").await
    }

    /// Calls `uri` (e.g. another phone's `uri()`).
    pub async fn dial(&mut self, uri: &str) -> Result<String, String> {
        self.command("dial", uri).await
    }

    /// Stops it gracefully (SIGTERM: it unregisters, waiting for the registrar's answer) and
    /// waits up to `limit` for it to exit; kills it if it does not. `None` when killed.
    pub async fn stop(&mut self, limit: Duration) -> Option<ExitStatus> {
        let pid = self.child.id()?;
        let sent = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await
            .is_ok_and(|s| s.success());
        if sent {
            if let Ok(Ok(status)) = tokio::time::timeout(limit, self.child.wait()).await {
                return Some(status);
            }
        }
        self.kill().await;
        None
    }

    /// Kills it at once (no unregistering: its binding stays until it expires).
    pub async fn kill(&mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }
}

/// Where a phone's sockets and files are.
struct Layout<'a> {
    ip: Ipv4Addr,
    port: u16,
    rtp_port: u16,
    ctrl_port: u16,
    record_dir: &'a Path,
}

/// The `config` file: only the modules a phone without sound card and UI needs.
fn config_text(l: &Layout<'_>, opts: &AgentOptions) -> Result<String, String> {
    // The player is never paired with a source (except to echo), so heard audio is only
    // decoded and recorded, never played anywhere.
    let (source, player, source_format, module) = match &opts.microphone {
        // ausine makes 48 kHz stereo only; baresip resamples to the codec.
        Microphone::Sine(hz) => (
            format!("ausine,{hz}"),
            "aubridge,speaker",
            "ausrc_srate 48000\nausrc_channels 2\n".to_owned(),
            Some("ausine.so"),
        ),
        Microphone::Wav(path) => {
            // aufile insists that the file's rate and channels are the source's.
            let wav = read_wav(path)?;
            (
                format!("aufile,{}", path.display()),
                "aubridge,speaker",
                format!(
                    "ausrc_srate {}\nausrc_channels {}\n",
                    wav.rate, wav.channels
                ),
                Some("aufile.so"),
            )
        }
        Microphone::Echo => (
            "aubridge,echo".to_owned(),
            "aubridge,echo",
            String::new(),
            None,
        ),
        Microphone::Silent => (
            "aubridge,microphone".to_owned(),
            "aubridge,speaker",
            String::new(),
            None,
        ),
    };
    // aubridge is always loaded: it is the speaker.
    let mut modules: String = module.map(|m| format!("module {m}\n")).unwrap_or_default();
    for m in &opts.extra_modules {
        modules.push_str(&format!("module {m}\n"));
    }
    Ok(format!(
        "# Written by c2c-e2e: one agent's phone, no sound card, no UI.
poll_method epoll
sip_listen {ip}:{port}
# Media on the same loopback address (by default it takes the default route's).
net_interface {ip}
call_local_timeout 120
call_max_calls 4
audio_player {player}
audio_source {source}
audio_alert aubridge,alert
{source_format}audio_level no
audio_buffer 20-160
rtp_ports {rtp_lo}-{rtp_hi}
rtcp_mux no
jitter_buffer_delay 5-10
# menu's status line would fill the log.
statmode_default off
module_path {module_path}
module g711.so
module aubridge.so
{modules}module sndfile.so
snd_path {rec}
module_tmp account.so
# menu answers calls for `answermode=auto` and runs the commands.
module_app menu.so
module_app ctrl_tcp.so
ctrl_tcp_listen {ip}:{ctrl}
",
        ip = l.ip,
        port = l.port,
        rtp_lo = l.rtp_port,
        rtp_hi = l.rtp_port + RTP_PORTS - 1,
        module_path = module_path().display(),
        rec = l.record_dir.display(),
        ctrl = l.ctrl_port,
    ))
}

/// The `accounts` line: digest credentials, the registrar as outbound proxy (the domain
/// need not resolve), the answer mode.
fn account_line(opts: &AgentOptions, aor: &str) -> String {
    let answermode = match opts.auto_answer {
        true => "auto",
        false => "manual",
    };
    let mut line = format!("<sip:{aor}>;auth_pass={}", opts.password);
    match opts.registrar {
        Some(r) => line.push_str(&format!(";outbound=\"sip:{r}\";regint={}", opts.regint)),
        None => line.push_str(";regint=0"),
    }
    line.push_str(&format!(";answermode={answermode}\n"));
    line
}

/// Where the package put baresip's modules.
fn module_path() -> PathBuf {
    let candidates = [
        "/usr/lib/baresip/modules",
        "/usr/lib/x86_64-linux-gnu/baresip/modules",
        "/usr/local/lib/baresip/modules",
    ];
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.join("g711.so").exists())
        .unwrap_or_else(|| PathBuf::from(candidates[0]))
}

/// A loopback address 127.0.0.X, X in 2..=254, varied per process and call so parallel
/// tests rarely share one (sharing is harmless: ports are still picked free on it).
fn pick_loopback() -> Ipv4Addr {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let seed = std::process::id()
        .wrapping_mul(2_654_435_761)
        .wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed).wrapping_mul(97))
        .wrapping_add(nanos >> 10);
    Ipv4Addr::new(127, 0, 0, 2 + (seed % 253) as u8)
}

/// A SIP port free on `ip` for baresip: UDP and TCP on it, TLS on the next one.
fn free_sip_port(ip: Ipv4Addr) -> Result<u16, String> {
    for _ in 0..100 {
        let port = UdpSocket::bind((ip, 0))
            .and_then(|s| s.local_addr())
            .map_err(|e| format!("no free UDP port on {ip}: {e}"))?
            .port();
        if port < u16::MAX
            && TcpListener::bind((ip, port)).is_ok()
            && TcpListener::bind((ip, port + 1)).is_ok()
        {
            return Ok(port);
        }
    }
    Err(format!("no free SIP port on {ip}"))
}

/// The first of `n` consecutive UDP ports free on `ip`, starting even (RTP, then RTCP).
fn free_udp_range(ip: Ipv4Addr, n: u16) -> Result<u16, String> {
    for _ in 0..100 {
        let base = UdpSocket::bind((ip, 0))
            .and_then(|s| s.local_addr())
            .map_err(|e| format!("no free UDP port on {ip}: {e}"))?
            .port()
            & !1;
        if base.checked_add(n).is_some()
            && (base..base + n).all(|p| UdpSocket::bind((ip, p)).is_ok())
        {
            return Ok(base);
        }
    }
    Err(format!("no {n} free consecutive UDP ports on {ip}"))
}

/// A TCP port free on `ip`.
fn free_tcp_on(ip: Ipv4Addr) -> Result<u16, String> {
    TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free TCP port on {ip}: {e}"))
}

/// The first netstring (`len:payload,`) in `buf` and what follows it.
fn netstring(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = buf.iter().position(|&b| b == b':')?;
    let len: usize = std::str::from_utf8(&buf[..colon])
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let end = colon + 1 + len;
    (buf.len() > end).then(|| (&buf[colon + 1..end], &buf[end + 1..]))
}

/// `text` without ANSI escape sequences (baresip colours warnings).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ params… final byte in @..~
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// A 16-bit PCM WAV, mixed down to mono.
#[derive(Debug, Clone)]
pub struct Wav {
    /// Sample rate in Hz.
    pub rate: u32,
    /// Channels in the file.
    pub channels: u16,
    /// The samples, channels averaged.
    pub samples: Vec<i16>,
}

/// Reads a 16-bit PCM WAV. A data chunk whose size is 0 or past the end (a recording still
/// being written) is read to the end of the file.
pub fn read_wav(path: &Path) -> Result<Wav, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let bad = |why: &str| format!("{}: {why}", path.display());
    if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(bad("not a WAV file"));
    }
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
    let u32_at =
        |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let mut format = None;
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let size = u32_at(at + 4) as usize;
        let body = at + 8;
        if id == b"fmt " && body + 16 <= bytes.len() {
            format = Some((
                u16_at(body),
                u16_at(body + 2),
                u32_at(body + 4),
                u16_at(body + 14),
            ));
        } else if id == b"data" {
            let (tag, channels, rate, bits) = format.ok_or_else(|| bad("data before fmt"))?;
            if tag != 1 || bits != 16 || channels == 0 {
                return Err(bad("not 16-bit PCM"));
            }
            let end = match size {
                0 => bytes.len(),
                n => (body + n).min(bytes.len()),
            };
            let frame = 2 * usize::from(channels);
            let samples = bytes[body..end]
                .chunks_exact(frame)
                .map(|f| {
                    let sum: i32 = f
                        .chunks_exact(2)
                        .map(|s| i32::from(i16::from_le_bytes([s[0], s[1]])))
                        .sum();
                    (sum / i32::from(channels)) as i16
                })
                .collect();
            return Ok(Wav {
                rate,
                channels,
                samples,
            });
        }
        at = body + size + (size & 1);
    }
    Err(bad("no data chunk"))
}

/// How much of a recording is one tone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToneAnalysis {
    /// Its length in seconds.
    pub seconds: f64,
    /// Its RMS level, as a fraction of full scale.
    pub rms: f64,
    /// The share of its energy at the tone's frequency (±10 Hz), 0 to 1.
    pub share: f64,
}

impl ToneAnalysis {
    /// True when it is mostly the tone, and audible: the tone carries at least half the
    /// energy and the level is above -40 dBFS.
    pub fn is_tone(&self) -> bool {
        self.share >= 0.5 && self.rms >= 0.01
    }
}

/// Measures the tone of `freq` Hz in a WAV (see `ToneAnalysis`).
pub fn analyse_tone(path: &Path, freq: f64) -> Result<ToneAnalysis, String> {
    let wav = read_wav(path)?;
    Ok(tone_in(&wav.samples, wav.rate, freq))
}

/// Measures the tone of `freq` Hz in `samples`: Goertzel over ~50 ms blocks holding a whole
/// number of its periods, so a slightly detuned tone (resampled, transcoded) still counts.
pub fn tone_in(samples: &[i16], rate: u32, freq: f64) -> ToneAnalysis {
    let rate_f = f64::from(rate);
    let cycles = (freq * 0.05).round().max(1.0);
    let block = ((cycles * rate_f / freq).round() as usize).clamp(1, samples.len().max(1));
    let w = std::f64::consts::TAU * freq / rate_f;
    let coeff = 2.0 * w.cos();
    let (mut total, mut at_freq) = (0.0f64, 0.0f64);
    for chunk in samples.chunks_exact(block) {
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &x in chunk {
            let x = f64::from(x);
            total += x * x;
            let s0 = x + coeff * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        // |X|² of the bin; a pure tone's block energy is 2|X|²/N.
        let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
        at_freq += 2.0 * power / block as f64;
    }
    let used = samples.len() - samples.len() % block;
    let full = f64::from(i16::MAX);
    ToneAnalysis {
        seconds: samples.len() as f64 / rate_f,
        rms: match used {
            0 => 0.0,
            n => (total / n as f64).sqrt() / full,
        },
        share: match total > 0.0 {
            true => (at_freq / total).min(1.0),
            false => 0.0,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f64, rate: u32, secs: f64) -> Vec<i16> {
        let n = (f64::from(rate) * secs) as usize;
        (0..n)
            .map(|i| {
                let t = i as f64 / f64::from(rate);
                ((t * freq * std::f64::consts::TAU).sin() * 10_000.0) as i16
            })
            .collect()
    }

    #[test]
    fn a_tone_is_found_at_its_frequency_only() {
        let s = sine(440.0, 8000, 2.0);
        let a = tone_in(&s, 8000, 440.0);
        assert!(a.is_tone() && a.share > 0.95, "{a:?}");
        assert!(!tone_in(&s, 8000, 1000.0).is_tone());
        // Slightly detuned, as after resampling.
        assert!(tone_in(&sine(441.5, 48_000, 1.0), 48_000, 440.0).is_tone());
        assert!(!tone_in(&[0; 8000], 8000, 440.0).is_tone());
    }

    #[test]
    fn netstrings_are_split_and_colours_stripped() {
        assert_eq!(
            netstring(b"3:abc,2:de,"),
            Some((&b"abc"[..], &b"2:de,"[..]))
        );
        assert_eq!(netstring(b"3:ab"), None);
        assert_eq!(strip_ansi("\u{1b}[31mreg: x\n\u{1b}[;m"), "reg: x\n");
    }
}
