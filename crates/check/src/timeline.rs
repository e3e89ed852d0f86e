//! Drawing a window of operations as a timeline, in text or HTML.
//!
//! Linearizability violations are about overlap in time, so they read best as a picture: one row
//! per operation, a bar from call to return on a shared time axis, and the reply beside it. Times
//! are shown relative to the first call of the window, in a unit chosen from the window's span.
//! An operation with unknown outcome is drawn open-ended (`~~~>`), since it may take effect at any
//! time after its call. The HTML form puts each client in its own lane and needs no scripts or
//! network, so it can be attached to a CI run as is.

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use crate::op::Op;
use crate::value::Outcome;

/// The HTML timeline's style sheet.
const STYLE: &str = "\
body { font-family: sans-serif; margin: 1em }
.lane { display: flex; align-items: stretch; border-bottom: 1px solid #ddd }
.who { width: 7em; padding-top: .6em; font-weight: bold }
.track { position: relative; flex: 1 }
.op { position: absolute; height: 22px; line-height: 22px; font-size: 12px; overflow: hidden;
      white-space: nowrap; border-radius: 3px; padding: 0 3px; box-sizing: border-box }
.ok { background: #cfe3ff; border: 1px solid #3a78c3 }
.info { border: 1px dashed #b58900; background: repeating-linear-gradient(45deg,
        #fff2c4, #fff2c4 6px, #ffe38a 6px, #ffe38a 12px) }
.fail { background: #eee; border: 1px solid #999; color: #777 }
pre { background: #f6f6f6; padding: .8em; white-space: pre-wrap }
";

/// Width of the text timeline's bar area, in characters.
const TEXT_BAR_WIDTH: usize = 48;

/// The time unit for a span of `span_ns`: (name, nanoseconds per unit).
fn unit(span_ns: u64) -> (&'static str, u64) {
    match span_ns {
        0..10_000 => ("ns", 1),
        10_000..10_000_000 => ("µs", 1_000),
        10_000_000..10_000_000_000 => ("ms", 1_000_000),
        _ => ("s", 1_000_000_000),
    }
}

/// The window's time frame: first call, last known instant, and display unit.
struct Frame {
    start: u64,
    end: u64,
    unit: (&'static str, u64),
}

impl Frame {
    fn of(window: &[Op]) -> Frame {
        let start = window.iter().map(|op| op.call_ns).min().unwrap_or(0);
        let end = window
            .iter()
            .map(|op| op.ret_ns.unwrap_or(op.call_ns).max(op.call_ns))
            .max()
            .unwrap_or(start);
        Frame {
            start,
            end,
            unit: unit(end - start),
        }
    }

    /// `t` relative to the start, in the display unit.
    fn rel(&self, t: u64) -> String {
        let (_, per) = self.unit;
        let d = t.saturating_sub(self.start);
        if per == 1 {
            d.to_string()
        } else {
            format!("{:.1}", d as f64 / per as f64)
        }
    }

    /// `t`'s position in `0..=width-1`.
    fn col(&self, t: u64, width: usize) -> usize {
        let span = (self.end - self.start).max(1) as u128;
        let d = t.saturating_sub(self.start).min(self.end - self.start) as u128;
        (d * (width as u128 - 1) / span) as usize
    }

    /// `t`'s position as a percentage of the span.
    fn pct(&self, t: u64) -> f64 {
        let span = (self.end - self.start).max(1) as f64;
        t.saturating_sub(self.start) as f64 * 100.0 / span
    }
}

fn sorted(window: &[Op]) -> Vec<&Op> {
    let mut ops: Vec<&Op> = window.iter().collect();
    ops.sort_by_key(|op| (op.call_ns, op.id));
    ops
}

/// One line per operation: id, client, a bar on a shared time axis, the command and reply, and
/// call/return times relative to the first call.
pub fn render_text(window: &[Op]) -> String {
    let frame = Frame::of(window);
    let mut out = format!(
        "times in {} from the first call; |===| call to return, |~~~> unknown outcome\n",
        frame.unit.0
    );
    let ops = sorted(window);
    let span = |op: &Op| {
        let ret = op.ret_ns.map_or_else(|| "?".to_string(), |r| frame.rel(r));
        format!("{} .. {ret}", frame.rel(op.call_ns))
    };
    let id_width = ops
        .iter()
        .map(|op| op.id.to_string().len())
        .max()
        .unwrap_or(1);
    let client_width = ops
        .iter()
        .map(|op| op.client.to_string().len())
        .max()
        .unwrap_or(1);
    let span_width = ops.iter().map(|op| span(op).len()).max().unwrap_or(1);
    for op in ops {
        let mut bar = vec![' '; TEXT_BAR_WIDTH];
        let from = frame.col(op.call_ns, TEXT_BAR_WIDTH);
        let open = op.outcome.is_info() || op.ret_ns.is_none();
        let to = match op.ret_ns {
            Some(ret) if !open => frame.col(ret, TEXT_BAR_WIDTH),
            _ => TEXT_BAR_WIDTH - 1,
        };
        for c in &mut bar[from..=to] {
            *c = if open { '~' } else { '=' };
        }
        bar[from] = '|';
        bar[to] = if open { '>' } else { '|' };
        let _ = writeln!(
            out,
            "  #{:<id_width$}  client {:<client_width$}  {}  {:>span_width$}  {} -> {}",
            op.id,
            op.client,
            bar.into_iter().collect::<String>(),
            span(op),
            op.command,
            op.reply(),
        );
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A self-contained HTML page: a lane per client with one bar per operation, then the
/// explanation and the same table as [`render_text`].
pub fn render_html(title: &str, window: &[Op], explanation: &str) -> String {
    let frame = Frame::of(window);
    let ops = sorted(window);
    let mut clients: Vec<u64> = ops.iter().map(|op| op.client).collect();
    clients.sort_unstable();
    clients.dedup();
    let mut lanes = String::new();
    for client in &clients {
        // Overlapping bars of one client (a pipelining client) go on separate rows.
        let mut row_ends: Vec<f64> = Vec::new();
        let mut bars = String::new();
        for op in ops.iter().filter(|op| op.client == *client) {
            let left = frame.pct(op.call_ns);
            let open = op.outcome.is_info() || op.ret_ns.is_none();
            let right = if open {
                100.0
            } else {
                frame.pct(op.ret_ns.unwrap_or(op.call_ns))
            };
            let row = match row_ends.iter().position(|&end| end < left) {
                Some(r) => r,
                None => {
                    row_ends.push(0.0);
                    row_ends.len() - 1
                }
            };
            row_ends[row] = right.max(left + 0.4);
            let class = match op.outcome {
                Outcome::Ok { .. } => "ok",
                Outcome::Fail { .. } => "fail",
                Outcome::Info { .. } => "info",
            };
            let _ = write!(
                bars,
                "<div class=\"op {class}\" style=\"left:{left:.3}%;width:{:.3}%;top:{}px\" \
                 title=\"{}\">#{} {}</div>",
                (right - left).max(0.4),
                4 + row * 26,
                escape(&format!("{op}")),
                op.id,
                escape(&format!("{} -> {}", op.command, op.reply()))
            );
        }
        let _ = write!(
            lanes,
            "<div class=lane><span class=who>client {client}</span>\
             <div class=track style=\"height:{}px\">{bars}",
            8 + row_ends.len() * 26
        );
        lanes.push_str("</div></div>\n");
    }
    format!(
        "<!doctype html>\n<html><head><meta charset=utf-8><title>{t}</title>\n\
         <style>\n{STYLE}</style></head><body>\n<h1>{t}</h1>\n<p>Bars run from call to return \
         ({u} from the first call); striped open bars have unknown outcome.</p>\n{lanes}\
         <h2>Why</h2>\n<pre>{e}</pre>\n<h2>Operations</h2>\n<pre>{table}</pre>\n</body></html>\n",
        t = escape(title),
        u = frame.unit.0,
        e = escape(explanation),
        table = escape(&render_text(window)),
    )
}

/// Writes a timeline file: HTML when the name ends in `.html` or `.htm`, text otherwise (with the
/// explanation first).
pub fn write_timeline(
    path: &Path,
    title: &str,
    window: &[Op],
    explanation: &str,
) -> io::Result<()> {
    let html = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm"));
    let body = if html {
        render_html(title, window, explanation)
    } else {
        format!("{title}\n\n{explanation}\n\n{}", render_text(window))
    };
    std::fs::write(path, body)
}
