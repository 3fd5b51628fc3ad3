//! The overview: today's calls, answer rate, average talk time, and calls per day.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;

use super::auth::Admin;
use super::{AdminError, Nav};
use crate::AppState;
use c2c_token::clock::unix_now;

/// Days the chart covers, today included.
const CHART_DAYS: usize = 14;
/// Chart size in SVG units.
const CHART_W: i64 = 560;
const CHART_H: i64 = 140;

/// One bar of the calls-per-day chart, in SVG units.
pub(crate) struct Bar {
    x: i64,
    y: i64,
    w: i64,
    h: i64,
    label: String,
    count: i64,
}

/// `/admin`.
#[derive(Template, WebTemplate)]
#[template(path = "overview.html")]
pub(crate) struct OverviewPage {
    nav: Nav,
    calls_today: i64,
    answer_rate: String,
    average_talk: String,
    bars: Vec<Bar>,
    chart_w: i64,
    chart_h: i64,
    max: i64,
}

/// `GET /admin`.
pub(crate) async fn page(
    State(state): State<AppState>,
    admin: Admin,
) -> Result<OverviewPage, AdminError> {
    let now = unix_now();
    let today = now - now.rem_euclid(86_400);
    let stats = state
        .store
        .call_stats(admin.org(), today, today + 86_400)
        .await?;
    let first = today - 86_400 * (CHART_DAYS as i64 - 1);
    let per_day = state
        .store
        .calls_per_day(admin.org(), first, CHART_DAYS)
        .await?;
    let max = per_day.iter().copied().max().unwrap_or(0).max(1);
    let slot = CHART_W / CHART_DAYS as i64;
    let bars = per_day
        .iter()
        .enumerate()
        .map(|(i, &count)| {
            let h = count * (CHART_H - 20) / max;
            let day = jiff::Timestamp::from_second(first + 86_400 * i as i64)
                .map(|t| t.strftime("%b %d").to_string())
                .unwrap_or_default();
            Bar {
                x: i as i64 * slot + 2,
                y: CHART_H - 16 - h,
                w: slot - 4,
                h,
                label: day,
                count,
            }
        })
        .collect();
    Ok(OverviewPage {
        nav: Nav::new(&admin, "overview"),
        calls_today: stats.calls,
        answer_rate: if stats.calls == 0 {
            "–".into()
        } else {
            format!("{} %", stats.answered * 100 / stats.calls)
        },
        average_talk: if stats.answered == 0 {
            "–".into()
        } else {
            duration(stats.talk_seconds / stats.answered)
        },
        bars,
        chart_w: CHART_W,
        chart_h: CHART_H,
        max,
    })
}

/// `m:ss` or `h:mm:ss`.
pub(crate) fn duration(secs: i64) -> String {
    let s = secs.max(0);
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}
