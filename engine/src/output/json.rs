//! JSON lines for tools: one object per event, `event` first, then `time` (RFC 3339, UTC, milliseconds),
//! then the event's fields; each line flushed as soon as it is written.

use super::event::{Event, Reporter};
use serde_json::{Map, Value};
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

pub struct JsonReporter<W: Write + Send> {
    out: W,
    clock: Box<dyn Fn() -> SystemTime + Send>,
}

impl<W: Write + Send> JsonReporter<W> {
    pub fn new(out: W) -> Self {
        JsonReporter {
            out,
            clock: Box::new(SystemTime::now),
        }
    }

    /// A fixed or fake clock, so that tests get stable `time` fields.
    pub fn with_clock(mut self, clock: impl Fn() -> SystemTime + Send + 'static) -> Self {
        self.clock = Box::new(clock);
        self
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write + Send> Reporter for JsonReporter<W> {
    fn report(&mut self, event: &Event) {
        let time = Value::String(rfc3339((self.clock)()));
        let line = match serde_json::to_value(event) {
            Ok(Value::Object(fields)) => {
                let mut object = Map::new();
                let mut rest = fields;
                if let Some(name) = rest.shift_remove("event") {
                    object.insert("event".into(), name);
                }
                object.insert("time".into(), time);
                object.extend(rest);
                Value::Object(object)
            }
            Ok(other) => other,
            Err(e) => serde_json::json!({"event": "error", "time": time, "message": e.to_string()}),
        };
        // Nothing sensible can be done about a closed pipe from inside a reporter; the run goes on.
        let _ = writeln!(self.out, "{line}");
        let _ = self.out.flush();
    }
}

/// `2024-05-01T12:00:00.123Z`, computed from the Unix time with the proleptic Gregorian calendar.
pub fn rfc3339(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// Days since 1970-01-01 to (year, month, day), by 400-year eras of 146097 days.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_709_251_199_999);
        assert_eq!(rfc3339(t), "2024-02-29T23:59:59.999Z");
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(t), "2000-02-29T00:00:00.000Z");
    }
}
