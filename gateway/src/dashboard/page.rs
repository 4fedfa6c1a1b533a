//! Rendering: the templates (compiled into the binary), the frame every page
//! shares, and the small formatters pages use (times, durations, money).

use std::sync::LazyLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::Environment;
use serde::Serialize;

use super::viewer::Viewer;
use crate::api::ApiError;

/// Every template, by name; `.html` ones escape what they print.
const TEMPLATES: [(&str, &str); 10] = [
    ("layout.html", include_str!("templates/layout.html")),
    ("sign_in.html", include_str!("templates/sign_in.html")),
    ("overview.html", include_str!("templates/overview.html")),
    ("tasks.html", include_str!("templates/tasks.html")),
    ("task_rows.html", include_str!("templates/task_rows.html")),
    ("task.html", include_str!("templates/task.html")),
    ("keys.html", include_str!("templates/keys.html")),
    ("audit.html", include_str!("templates/audit.html")),
    ("plugins.html", include_str!("templates/plugins.html")),
    ("secret.html", include_str!("templates/secret.html")),
];

static ENVIRONMENT: LazyLock<Result<Environment<'static>, minijinja::Error>> = LazyLock::new(|| {
    let mut environment = Environment::new();
    for (name, source) in TEMPLATES {
        environment.add_template(name, source)?;
    }
    Ok(environment)
});

/// `template` rendered with `context`.
pub fn render(template: &str, context: impl Serialize) -> Result<Html<String>, ApiError> {
    let environment = ENVIRONMENT.as_ref().map_err(ApiError::internal)?;
    let html = environment.get_template(template).and_then(|t| t.render(context)).map_err(ApiError::internal)?;
    Ok(Html(html))
}

/// What the frame of every signed-in page shows: who is signed in, the
/// navigation, and the token its forms carry.
#[derive(Serialize)]
pub struct Frame {
    pub page: &'static str,
    pub key_name: String,
    pub key_id: String,
    pub admin: bool,
    pub csrf: String,
}

impl Frame {
    pub fn of(viewer: &Viewer, page: &'static str) -> Self {
        Self {
            page,
            key_name: viewer.principal().name.clone(),
            key_id: viewer.principal().key_id.clone(),
            admin: viewer.is_admin(),
            csrf: viewer.session.csrf.clone(),
        }
    }
}

/// 303 to `location`: where a form's result or the sign-in is.
pub fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// A millisecond timestamp as people read it: `2026-12-05 19:40:03 UTC`.
pub fn when(ms: i64) -> String {
    let text = crate::timestamp::format_ms(ms);
    let text = text.split('.').next().unwrap_or(&text).trim_end_matches('Z');
    format!("{} UTC", text.replacen('T', " ", 1))
}

/// Milliseconds as `850 ms`, `12.4 s`, `3.5 min` or `2.0 h`.
pub fn duration(ms: i64) -> String {
    match ms {
        ..1000 => format!("{ms} ms"),
        1000..60_000 => format!("{:.1} s", ms as f64 / 1e3),
        60_000..3_600_000 => format!("{:.1} min", ms as f64 / 6e4),
        _ => format!("{:.1} h", ms as f64 / 3.6e6),
    }
}

/// Millionths of a US dollar as `$0.0123`.
pub fn dollars(micros: i64) -> String {
    format!("${:.4}", micros as f64 / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        assert!(ENVIRONMENT.as_ref().is_ok(), "{:?}", ENVIRONMENT.as_ref().err());
    }

    #[test]
    fn rendered_text_is_escaped() {
        let html =
            render("sign_in.html", minijinja::context! { csrf => "\"><script>x</script>", error => "<b>" }).unwrap().0;
        assert!(!html.contains("<script>x"), "{html}");
        assert!(html.contains("&lt;b&gt;"), "{html}");
    }

    #[test]
    fn figures_read_like_figures() {
        assert_eq!(duration(850), "850 ms");
        assert_eq!(duration(12_400), "12.4 s");
        assert_eq!(duration(210_000), "3.5 min");
        assert_eq!(dollars(12_300), "$0.0123");
        assert_eq!(when(0), "1970-01-01 00:00:00 UTC");
    }
}
