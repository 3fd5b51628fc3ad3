//! The call's life with virtual time: hunting, ring timeouts and the hang-up races.

use super::*;
use c2c_sbc::sdp::RemoteMedia;

const RING: Duration = Duration::from_secs(20);

fn media() -> RemoteMedia {
    RemoteMedia {
        addr: "192.0.2.9:40000".parse().expect("addr"),
        payload_types: vec![0, 101],
        telephone_event_pt: Some(101),
        direction: c2c_sbc::sdp::Direction::SendRecv,
    }
}

fn ended(reason: EndReason) -> Input {
    Input::Leg(LegEvent::Ended {
        reason,
        status: None,
    })
}

/// A flow of `destinations` with the first one's INVITE out at `t0`.
fn flow(destinations: usize) -> (CallFlow, Instant) {
    let t0 = Instant::now();
    (CallFlow::new(t0, 0, destinations, RING), t0)
}

/// What the flow wants done, in a form tests compare.
#[derive(Debug, PartialEq, Eq)]
enum Did {
    Send(String),
    HangUp,
    Place(usize),
    TrunkMedia,
    MediaAnswered,
    Dtmf(String),
    Record(&'static str),
    Hold,
    Unhold,
    Connected(usize, Duration),
    End(EndReason),
}

fn take(f: &mut CallFlow) -> Vec<Did> {
    std::iter::from_fn(|| f.poll_action())
        .map(|a| match a {
            Action::Send(ServerMessage::State { state }) => Did::Send(format!("{state:?}")),
            Action::Send(ServerMessage::Error { code, .. }) => Did::Send(code),
            Action::Send(other) => Did::Send(format!("{other:?}")),
            Action::HangUp => Did::HangUp,
            Action::Place { destination } => Did::Place(destination),
            Action::Media(MediaCommand::TrunkMedia(_)) => Did::TrunkMedia,
            Action::Media(MediaCommand::Answered) => Did::MediaAnswered,
            Action::Media(MediaCommand::Dtmf(d)) => Did::Dtmf(d),
            Action::Media(MediaCommand::Stop) => Did::Send("stop?".into()),
            Action::Media(MediaCommand::Hold(_)) => Did::Hold,
            Action::Media(MediaCommand::Unhold) => Did::Unhold,
            Action::Record { detail, .. } => Did::Record(detail),
            Action::Connected { destination, after } => Did::Connected(destination, after),
            Action::End(r) => Did::End(r),
        })
        .collect()
}

fn answer(f: &mut CallFlow, at: Instant) -> Vec<Did> {
    f.handle(Input::Leg(LegEvent::Answered(media())), at);
    take(f)
}

#[test]
fn an_answered_call_tells_the_browser_and_the_media_and_ends_with_the_far_end() {
    let (mut f, t0) = flow(1);
    f.handle(Input::Leg(LegEvent::Trying), t0);
    f.handle(Input::Leg(LegEvent::Ringing), t0 + Duration::from_secs(1));
    assert_eq!(take(&mut f), [Did::Send("Ringing".into())]);
    assert_eq!(
        answer(&mut f, t0 + Duration::from_secs(3)),
        [
            Did::Connected(0, Duration::from_secs(3)),
            Did::TrunkMedia,
            Did::MediaAnswered,
            Did::Send("Answered".into())
        ]
    );
    assert_eq!(f.phase(), Phase::Answered);
    f.handle(ended(EndReason::HangupRemote), t0 + Duration::from_secs(60));
    assert_eq!(take(&mut f), [Did::End(EndReason::HangupRemote)]);
    // Over is over: nothing later does anything.
    f.handle(
        Input::Browser(ClientMessage::Hangup),
        t0 + Duration::from_secs(61),
    );
    assert_eq!(take(&mut f), []);
}

#[test]
fn a_refusing_destination_moves_the_call_to_the_next_and_the_last_ones_refusal_ends_it() {
    let (mut f, t0) = flow(3);
    f.handle(ended(EndReason::Busy), t0 + Duration::from_secs(1));
    assert_eq!(take(&mut f), [Did::Place(1)]);
    assert_eq!(f.phase(), Phase::Placing);
    // The SBC could not call destination 1, but 2 went out.
    f.handle(
        Input::Placed { destination: 2 },
        t0 + Duration::from_secs(2),
    );
    assert_eq!(f.destination(), 2);
    assert!(matches!(f.phase(), Phase::Calling { .. }));
    f.handle(ended(EndReason::Rejected), t0 + Duration::from_secs(3));
    assert_eq!(take(&mut f), [Did::End(EndReason::Rejected)]);
}

#[test]
fn the_answer_names_the_destination_that_took_the_call() {
    let (mut f, t0) = flow(3);
    f.handle(ended(EndReason::Busy), t0);
    take(&mut f);
    f.handle(Input::Placed { destination: 2 }, t0);
    let did = answer(&mut f, t0 + Duration::from_secs(4));
    assert_eq!(did[0], Did::Connected(2, Duration::from_secs(4)));
}

#[test]
fn of_destinations_rung_at_once_the_picked_one_is_connected() {
    let (mut f, t0) = flow(1);
    f.handle(Input::Leg(LegEvent::Picked { fork: 2 }), t0);
    let did = answer(&mut f, t0 + Duration::from_secs(1));
    assert_eq!(did[0], Did::Connected(2, Duration::from_secs(1)));
}

#[test]
fn a_destination_that_rings_out_is_cancelled_and_the_next_called_after_the_cancel() {
    let (mut f, t0) = flow(2);
    assert_eq!(f.deadline(), t0 + RING);
    f.handle(Input::Deadline, t0 + RING - Duration::from_millis(1));
    assert_eq!(take(&mut f), [], "an early wake-up does nothing");
    f.handle(Input::Deadline, t0 + RING);
    assert_eq!(take(&mut f), [Did::HangUp]);
    assert_eq!(f.phase(), Phase::MovingOn);
    // The CANCEL's 487 comes back as the leg's own hang-up: it still moves on.
    f.handle(
        ended(EndReason::HangupLocal),
        t0 + RING + Duration::from_millis(50),
    );
    assert_eq!(take(&mut f), [Did::Place(1)]);
    let t1 = t0 + RING + Duration::from_millis(60);
    f.handle(Input::Placed { destination: 1 }, t1);
    // The last destination rings as long as it likes: only the longest call ends it.
    assert_eq!(f.deadline(), t0 + MAX_CALL);
    f.handle(ended(EndReason::NoAnswer), t1 + Duration::from_secs(90));
    assert_eq!(take(&mut f), [Did::End(EndReason::NoAnswer)]);
}

#[test]
fn the_answer_that_beats_the_ring_timeout_stops_the_hunt() {
    let (mut f, t0) = flow(2);
    answer(&mut f, t0 + RING - Duration::from_millis(1));
    assert_eq!(f.deadline(), t0 + MAX_CALL, "no ring timeout once answered");
    f.handle(Input::Deadline, t0 + RING);
    assert_eq!(take(&mut f), []);
    f.handle(ended(EndReason::Busy), t0 + RING + Duration::from_secs(1));
    assert_eq!(
        take(&mut f),
        [Did::End(EndReason::Busy)],
        "an answered call's end is never hunted on"
    );
}

#[test]
fn a_far_end_hang_up_before_the_answer_is_not_hunted_on() {
    let (mut f, t0) = flow(2);
    f.handle(ended(EndReason::HangupRemote), t0 + Duration::from_secs(1));
    assert_eq!(take(&mut f), [Did::End(EndReason::HangupRemote)]);
}

#[test]
fn no_destination_left_that_can_be_placed_fails_the_call() {
    let (mut f, t0) = flow(2);
    f.handle(ended(EndReason::Unavailable), t0);
    assert_eq!(take(&mut f), [Did::Place(1)]);
    f.handle(Input::PlaceFailed, t0 + Duration::from_millis(5));
    assert_eq!(take(&mut f), [Did::End(EndReason::Failed)]);
}

#[test]
fn the_browser_hanging_up_while_the_invite_is_in_flight_cancels_and_ends_as_its_hang_up() {
    let (mut f, t0) = flow(2);
    f.handle(
        Input::Browser(ClientMessage::Hangup),
        t0 + Duration::from_millis(10),
    );
    assert_eq!(take(&mut f), [Did::HangUp]);
    assert!(
        f.browser_open(),
        "a hang-up message leaves the socket open for the end"
    );
    assert!(!f.drain_matters());
    // The trunk's answer crossed our CANCEL: the browser is not told it was answered.
    assert_eq!(answer(&mut f, t0 + Duration::from_millis(20)), []);
    f.handle(
        Input::Leg(LegEvent::Ringing),
        t0 + Duration::from_millis(25),
    );
    assert_eq!(take(&mut f), []);
    // Hanging up twice asks once; the end is not hunted on though another is left.
    f.handle(Input::BrowserClosed, t0 + Duration::from_millis(30));
    assert!(!f.browser_open());
    f.handle(ended(EndReason::NoAnswer), t0 + Duration::from_millis(40));
    assert_eq!(take(&mut f), [Did::End(EndReason::HangupLocal)]);
}

#[test]
fn the_browser_leaving_while_a_destination_is_cancelled_to_move_on_ends_the_call() {
    let (mut f, t0) = flow(3);
    f.handle(Input::Deadline, t0 + RING);
    assert_eq!(take(&mut f), [Did::HangUp]);
    f.handle(Input::BrowserClosed, t0 + RING + Duration::from_millis(5));
    assert_eq!(take(&mut f), [], "the CANCEL is out already");
    f.handle(
        ended(EndReason::HangupLocal),
        t0 + RING + Duration::from_millis(50),
    );
    assert_eq!(
        take(&mut f),
        [Did::End(EndReason::HangupLocal)],
        "nobody is left to hear the next destination"
    );
}

#[test]
fn the_trunk_that_never_confirms_a_hang_up_fails_the_call_after_the_wait() {
    let (mut f, t0) = flow(1);
    answer(&mut f, t0);
    let t1 = t0 + Duration::from_secs(5);
    f.handle(Input::Media(MediaEvent::BrowserGone), t1);
    assert_eq!(take(&mut f), [Did::HangUp]);
    assert_eq!(f.deadline(), t1 + HANGUP_WAIT);
    f.handle(Input::Deadline, t1 + HANGUP_WAIT);
    assert_eq!(take(&mut f), [Did::End(EndReason::Failed)]);
}

#[test]
fn a_media_timeout_during_early_media_hangs_up_and_ends_as_a_timeout() {
    let (mut f, t0) = flow(2);
    f.handle(Input::Leg(LegEvent::EarlyMedia(media())), t0);
    assert_eq!(
        take(&mut f),
        [Did::TrunkMedia, Did::Send("EarlyMedia".into())]
    );
    let side = c2c_media::watchdog::Side::Trunk;
    f.handle(
        Input::Media(MediaEvent::RtpTimeout(side)),
        t0 + Duration::from_secs(8),
    );
    assert_eq!(take(&mut f), [Did::HangUp]);
    // Neither the ring timeout nor the other destination matter any more.
    f.handle(Input::Deadline, t0 + RING);
    assert_eq!(take(&mut f), []);
    f.handle(
        ended(EndReason::HangupLocal),
        t0 + RING + Duration::from_secs(1),
    );
    assert_eq!(take(&mut f), [Did::End(EndReason::Timeout)]);
}

#[test]
fn the_drain_ends_the_call_as_unavailable_and_is_recorded_once() {
    let (mut f, t0) = flow(1);
    answer(&mut f, t0);
    f.handle(Input::DrainOver, t0 + Duration::from_secs(30));
    assert_eq!(
        take(&mut f),
        [Did::Record("ended by the node's drain"), Did::HangUp]
    );
    f.handle(Input::DrainOver, t0 + Duration::from_secs(31));
    assert_eq!(take(&mut f), []);
    f.handle(ended(EndReason::HangupLocal), t0 + Duration::from_secs(32));
    assert_eq!(take(&mut f), [Did::End(EndReason::Unavailable)]);
}

#[test]
fn the_longest_call_is_hung_up_by_us() {
    let (mut f, t0) = flow(1);
    answer(&mut f, t0 + Duration::from_secs(2));
    assert_eq!(f.deadline(), t0 + MAX_CALL);
    f.handle(Input::Deadline, t0 + MAX_CALL);
    assert_eq!(take(&mut f), [Did::HangUp]);
    f.handle(
        ended(EndReason::HangupLocal),
        t0 + MAX_CALL + Duration::from_secs(1),
    );
    assert_eq!(take(&mut f), [Did::End(EndReason::HangupLocal)]);
}

#[test]
fn the_sbc_forgetting_the_leg_fails_the_call() {
    let (mut f, t0) = flow(2);
    f.handle(Input::LegGone, t0);
    assert_eq!(take(&mut f), [Did::End(EndReason::Failed)]);
}

#[test]
fn browser_messages_in_a_call_are_relayed_or_answered_with_an_error() {
    let (mut f, t0) = flow(1);
    answer(&mut f, t0);
    f.handle(
        Input::Browser(ClientMessage::Dtmf {
            digits: "12#".into(),
        }),
        t0,
    );
    f.handle(
        Input::Browser(ClientMessage::Dtmf {
            digits: "1x".into(),
        }),
        t0,
    );
    f.handle(
        Input::Browser(ClientMessage::Call {
            token: "t".into(),
            sdp: "v=0".into(),
        }),
        t0,
    );
    f.handle(Input::BrowserMalformed("expected value".into()), t0);
    assert_eq!(
        take(&mut f),
        [
            Did::Dtmf("12#".into()),
            Did::Send("bad_dtmf".into()),
            Did::Send("protocol".into()),
            Did::Send("bad_message".into())
        ]
    );
    assert_eq!(f.phase(), Phase::Answered);
}

#[test]
fn a_re_invite_moves_the_media_and_a_refusal_is_only_recorded() {
    let (mut f, t0) = flow(1);
    answer(&mut f, t0);
    f.handle(Input::Leg(LegEvent::MediaChanged(media())), t0);
    f.handle(Input::Leg(LegEvent::Refused("media address".into())), t0);
    f.handle(Input::Media(MediaEvent::Connected), t0);
    assert_eq!(take(&mut f), [Did::TrunkMedia]);
}

const WAIT: Duration = Duration::from_secs(60);

fn queue_at(position: u32, wait: Option<u32>) -> Input {
    Input::QueuePosition {
        position,
        estimated_wait_s: wait,
    }
}

#[test]
fn a_queued_call_hears_its_place_rings_the_free_agent_and_waits_on_when_it_rings_out() {
    let t0 = Instant::now();
    let mut f = CallFlow::queued(t0, RING, WAIT, HoldAudio::tones());
    assert!(f.is_queued());
    assert_eq!(
        take(&mut f),
        [Did::Record("waiting for a free agent"), Did::Hold],
        "the music plays while it waits"
    );
    assert_eq!(f.deadline(), t0 + WAIT, "the queue's longest wait");
    f.handle(queue_at(2, Some(90)), t0);
    let queue = |p, w: Option<u32>| {
        Did::Send(format!(
            "{:?}",
            ServerMessage::Queue {
                position: p,
                estimated_wait_s: w
            }
        ))
    };
    assert_eq!(take(&mut f), [queue(2, Some(90))]);
    f.handle(queue_at(2, Some(90)), t0 + Duration::from_secs(1));
    assert_eq!(take(&mut f), [], "told only when it changes");
    f.handle(queue_at(1, None), t0 + Duration::from_secs(2));
    assert_eq!(take(&mut f), [queue(1, None)]);

    let t1 = t0 + Duration::from_secs(10);
    f.handle(Input::AgentsFree { callees: 1 }, t1);
    assert_eq!(
        take(&mut f),
        [Did::Record("an agent is free: ringing"), Did::Place(0)]
    );
    f.handle(Input::Placed { destination: 0 }, t1);
    assert!(!f.is_queued());
    assert_eq!(
        f.deadline(),
        t1 + RING,
        "the last agent too rings only so long"
    );
    f.handle(Input::Deadline, t1 + RING);
    assert_eq!(take(&mut f), [Did::HangUp]);
    f.handle(ended(EndReason::HangupLocal), t1 + RING);
    assert_eq!(
        take(&mut f),
        [Did::Record("waiting for a free agent")],
        "the music never stopped while the agent rang"
    );
    assert!(f.is_queued(), "back in line, with its place");
    assert_eq!(
        f.deadline(),
        t0 + WAIT,
        "the wait counts from the first moment"
    );
    f.handle(queue_at(1, None), t1 + RING);
    assert_eq!(take(&mut f), [queue(1, None)], "told again");
    f.handle(Input::Deadline, t0 + WAIT);
    assert_eq!(
        take(&mut f),
        [
            Did::Record("waited the queue's longest"),
            Did::End(EndReason::NoAgent)
        ]
    );
}

#[test]
fn a_visitor_who_hangs_up_in_the_queue_ends_at_once_with_no_leg_to_cancel() {
    let t0 = Instant::now();
    let mut f = CallFlow::queued(t0, RING, WAIT, HoldAudio::tones());
    take(&mut f);
    f.handle(
        Input::Browser(ClientMessage::Hangup),
        t0 + Duration::from_secs(3),
    );
    assert_eq!(take(&mut f), [Did::End(EndReason::HangupLocal)]);
}

#[test]
fn a_call_that_may_wait_queues_when_every_agent_refuses_and_an_answer_from_there_connects() {
    let (f, t0) = flow(2);
    let mut f = f.may_wait(t0, WAIT, HoldAudio::tones());
    f.handle(ended(EndReason::Busy), t0);
    assert_eq!(take(&mut f), [Did::Place(1)]);
    f.handle(Input::PlaceFailed, t0);
    assert_eq!(
        take(&mut f),
        [Did::Record("waiting for a free agent"), Did::Hold]
    );
    f.handle(
        Input::AgentsFree { callees: 2 },
        t0 + Duration::from_secs(5),
    );
    take(&mut f);
    f.handle(
        Input::Placed { destination: 1 },
        t0 + Duration::from_secs(5),
    );
    let did = answer(&mut f, t0 + Duration::from_secs(7));
    assert_eq!(did[0], Did::Connected(1, Duration::from_secs(7)));
    assert_eq!(
        did[2],
        Did::Unhold,
        "the music stops for the agent's voice: {did:?}"
    );
    assert_eq!(f.phase(), Phase::Answered);
}
