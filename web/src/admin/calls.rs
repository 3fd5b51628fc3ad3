//! Calls: the CDR list with filters, pagination and CSV export, and one call's detail page
//! with its web session, event timeline and SIP ladder.

mod ladder;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::auth::Admin;
use super::overview::duration;
use super::{AdminError, Nav};
use c2c_store::WebSession;
use c2c_store::{CallEvent, CallFilter, CallMedia, CallRecord};

use crate::AppState;
use ladder::{is_ladder_event, ladder, Rung};

/// Calls per page.
const PAGE_SIZE: i64 = 50;
/// Most rows one CSV export holds.
const CSV_MAX_ROWS: i64 = 100_000;

/// The list's filters as the form sends them.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub(crate) struct CallQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    campaign: String,
    #[serde(default)]
    disposition: String,
    #[serde(default)]
    page: Option<u32>,
}

/// Dispositions offered in the filter.
const DISPOSITIONS: &[&str] = &[
    "in_progress",
    "hangup_local",
    "hangup_remote",
    "busy",
    "no_answer",
    "rejected",
    "unavailable",
    "failed",
    "interrupted",
    "timeout",
];

impl CallQuery {
    /// The store filter; the field and message when a date does not parse.
    fn filter(&self) -> Result<CallFilter, (&'static str, &'static str)> {
        let day = |s: &str, field| -> Result<Option<i64>, (&'static str, &'static str)> {
            if s.is_empty() {
                return Ok(None);
            }
            let d: jiff::civil::Date = s
                .parse()
                .map_err(|_| (field, "Use a date like 2026-11-21."))?;
            d.to_zoned(jiff::tz::TimeZone::UTC)
                .map(|z| Some(z.timestamp().as_second()))
                .map_err(|_| (field, "Use a date like 2026-11-21."))
        };
        let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        Ok(CallFilter {
            from: day(&self.from, "from")?,
            until: day(&self.until, "until")?.map(|t| t + 86_400),
            campaign: non_empty(&self.campaign),
            disposition: non_empty(&self.disposition),
        })
    }

    /// The query string of these filters (for paging and export links).
    fn query_string(&self, page: Option<u32>) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("from", &self.from),
            ("until", &self.until),
            ("campaign", &self.campaign),
            ("disposition", &self.disposition),
        ] {
            if !v.is_empty() {
                q.append_pair(k, v);
            }
        }
        if let Some(p) = page {
            q.append_pair("page", &p.to_string());
        }
        q.finish()
    }
}

/// One row of the list.
pub(crate) struct CallRow {
    id: String,
    started: String,
    campaign: String,
    number: String,
    destination: String,
    disposition: String,
    talk: String,
}

impl From<&CallRecord> for CallRow {
    fn from(c: &CallRecord) -> Self {
        CallRow {
            id: c.id.clone(),
            started: time(c.started_at),
            campaign: c.campaign.clone(),
            number: c.number.clone(),
            destination: c.destination.clone(),
            disposition: c
                .disposition
                .clone()
                .unwrap_or_else(|| "in progress".into()),
            talk: c.talk_seconds().map(duration).unwrap_or_default(),
        }
    }
}

/// `/admin/calls`.
#[derive(Template, WebTemplate)]
#[template(path = "calls.html")]
pub(crate) struct CallsPage {
    nav: Nav,
    q: CallQuery,
    error_field: &'static str,
    error: &'static str,
    campaigns: Vec<String>,
    dispositions: &'static [&'static str],
    rows: Vec<CallRow>,
    page: u32,
    prev: String,
    next: String,
    csv: String,
}

/// `GET /admin/calls`.
pub(crate) async fn list(
    State(state): State<AppState>,
    admin: Admin,
    Query(q): Query<CallQuery>,
) -> Result<CallsPage, AdminError> {
    let page = q.page.unwrap_or(1).max(1);
    let (rows, has_more, error_field, error) = match q.filter() {
        Ok(filter) => {
            let calls = state
                .store
                .calls(
                    admin.org(),
                    &filter,
                    PAGE_SIZE + 1,
                    i64::from(page - 1) * PAGE_SIZE,
                )
                .await?;
            let more = calls.len() as i64 > PAGE_SIZE;
            let rows = calls.iter().take(PAGE_SIZE as usize).map(CallRow::from);
            (rows.collect(), more, "", "")
        }
        Err((field, why)) => (Vec::new(), false, field, why),
    };
    Ok(CallsPage {
        nav: Nav::new(&admin, "calls"),
        campaigns: super::org_campaign_ids(&state, admin.org()).await?,
        dispositions: DISPOSITIONS,
        rows,
        page,
        prev: if page > 1 {
            format!("/admin/calls?{}", q.query_string(Some(page - 1)))
        } else {
            String::new()
        },
        next: if has_more {
            format!("/admin/calls?{}", q.query_string(Some(page + 1)))
        } else {
            String::new()
        },
        csv: format!("/admin/calls.csv?{}", q.query_string(None)),
        error_field,
        error,
        q,
    })
}

/// `GET /admin/calls.csv`: the filtered list as CSV.
pub(crate) async fn csv(
    State(state): State<AppState>,
    admin: Admin,
    Query(q): Query<CallQuery>,
) -> Result<Response, AdminError> {
    let filter = q
        .filter()
        .map_err(|_| AdminError::BadRequest("Use dates like 2026-11-21."))?;
    let calls = state
        .store
        .calls(admin.org(), &filter, CSV_MAX_ROWS, 0)
        .await?;
    let ids: Vec<&str> = calls.iter().map(|c| c.id.as_str()).collect();
    let media = state.store.calls_media(&ids).await?;
    let mut out = String::from(
        "id,campaign,session_id,number,destination,trunk,sip_call_id,started_at,answered_at,\
         ended_at,disposition,sip_status,talk_seconds,rtp_from_browser,rtp_to_trunk,\
         rtp_from_trunk,rtp_to_browser,lost_from_browser,lost_from_trunk,trunk_reported_lost,\
         trunk_jitter_ms\r\n",
    );
    for c in &calls {
        let opt = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
        let m = media.get(&c.id);
        let figure = |f: fn(&CallMedia) -> i64| opt(m.map(f));
        let fields = [
            c.id.clone(),
            c.campaign.clone(),
            c.session_id.clone(),
            c.number.clone(),
            c.destination.clone(),
            c.trunk.clone(),
            c.sip_call_id.clone(),
            time(c.started_at),
            c.answered_at.map(time).unwrap_or_default(),
            c.ended_at.map(time).unwrap_or_default(),
            c.disposition.clone().unwrap_or_default(),
            opt(c.sip_status),
            opt(c.talk_seconds()),
            figure(|m| m.from_browser),
            figure(|m| m.to_trunk),
            figure(|m| m.from_trunk),
            figure(|m| m.to_browser),
            figure(|m| m.lost_from_browser),
            figure(|m| m.lost_from_trunk),
            // Without an RTCP report the trunk said nothing: empty, not zero.
            m.filter(|m| m.trunk_reports > 0)
                .map(|m| m.trunk_lost.to_string())
                .unwrap_or_default(),
            m.filter(|m| m.trunk_reports > 0)
                .map(|m| format!("{:.1}", m.trunk_jitter_us as f64 / 1000.0))
                .unwrap_or_default(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"calls.csv\"",
            ),
        ],
        out,
    )
        .into_response())
}

/// A CSV field, quoted; a leading formula character is defused so spreadsheets show text.
fn csv_field(s: &str) -> String {
    let formula = s.starts_with(['=', '@', '\t', '\r'])
        || ((s.starts_with('+') || s.starts_with('-'))
            && !s[1..].chars().all(|c| c.is_ascii_digit()));
    let body = if formula {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    format!("\"{}\"", body.replace('"', "\"\""))
}

/// `/admin/calls/{id}`.
#[derive(Template, WebTemplate)]
#[template(path = "call.html")]
pub(crate) struct CallPage {
    nav: Nav,
    call: CallRow,
    record: CallRecord,
    session: Option<WebSession>,
    media: Option<MediaFigures>,
    events: Vec<(String, CallEvent)>,
    ladder: Vec<Rung>,
    /// Wall-clock time of the ladder's first message (`HH:MM:SS.mmm` UTC).
    ladder_start: String,
}

/// `GET /admin/calls/{id}`.
pub(crate) async fn detail(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<CallPage, AdminError> {
    let record = state
        .store
        .call(admin.org(), &id)
        .await?
        .ok_or(AdminError::NotFound)?;
    let session = state
        .store
        .session(&record.session_id)
        .await?
        .filter(|s| s.org == admin.org());
    let media = state
        .store
        .call_media(&record.id)
        .await?
        .map(MediaFigures::from);
    let events = state.store.call_events(&record.id).await?;
    let ladder = ladder(&events);
    let ladder_start = events
        .iter()
        .find(|e| is_ladder_event(e))
        .map(|e| time_ms(e.at_ms))
        .unwrap_or_default();
    Ok(CallPage {
        nav: Nav::new(&admin, "calls"),
        call: CallRow::from(&record),
        events: events
            .into_iter()
            .filter(|e| !is_ladder_event(e))
            .map(|e| (time_ms(e.at_ms), e))
            .collect(),
        record,
        session,
        media,
        ladder,
        ladder_start,
    })
}

/// A call's media figures as the call page shows them.
pub(crate) struct MediaFigures {
    raw: CallMedia,
    /// Loss of each incoming stream and of ours at the trunk, `0.00 %`.
    loss_from_browser: String,
    loss_from_trunk: String,
    loss_at_trunk: String,
    /// Jitter of our stream at the trunk, `1.2 ms`.
    jitter_at_trunk: String,
}

impl From<CallMedia> for MediaFigures {
    fn from(m: CallMedia) -> Self {
        let pct = |lost: i64, expected: i64| match expected {
            0 => "–".to_owned(),
            all => format!("{:.2} %", lost as f64 * 100.0 / all as f64),
        };
        let reported = m.trunk_reports > 0;
        MediaFigures {
            loss_from_browser: pct(m.lost_from_browser, m.lost_from_browser + m.from_browser),
            loss_from_trunk: pct(m.lost_from_trunk, m.lost_from_trunk + m.from_trunk),
            loss_at_trunk: match reported {
                true => pct(m.trunk_lost.max(0), m.to_trunk),
                false => "no RTCP report".to_owned(),
            },
            jitter_at_trunk: match reported {
                true => format!("{:.1} ms", m.trunk_jitter_us as f64 / 1000.0),
                false => "no RTCP report".to_owned(),
            },
            raw: m,
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS` UTC.
pub(crate) fn time(unix: i64) -> String {
    jiff::Timestamp::from_second(unix)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// `HH:MM:SS.mmm` UTC.
fn time_ms(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%H:%M:%S%.3f").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("a\"b"), "\"a\"\"b\"");
        assert_eq!(csv_field("+4930123"), "\"+4930123\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "\"'=HYPERLINK(1)\"");
        assert_eq!(csv_field("+SUM(A1)"), "\"'+SUM(A1)\"");
        assert_eq!(csv_field("-"), "\"-\"");
    }
}
