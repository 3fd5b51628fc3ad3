//! Screening: the checks a visitor's request passes before a token is minted.

mod bot_check;
mod capacity;
mod client;
mod hours;
mod rate;

pub use bot_check::{verify as verify_bot_check, BotCheckConfig, BotCheckError};
pub use capacity::{ActiveCalls, CallSlot};
pub use client::{client_ip, client_key, ClientIp};
pub use hours::{HoursError, WeeklyHours};
pub use rate::RequestLimiter;
