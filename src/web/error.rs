//! The one application error type, its HTTP status, and the error pages. The browser gets a
//! safe message and the request id; the cause goes to the log, once, here.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, ResponseError};
use askama::Template;

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Not signed in: redirect to the sign-in page, then back to `return_to`.
    #[error("sign-in required")]
    SignInRequired { return_to: String },
    /// Signed in with a temporary password: choose one's own first.
    #[error("password change required")]
    PasswordChangeRequired,
    /// The organisation ran more connection tests in a short time than allowed.
    #[error("too many connection tests")]
    TooManyTests,
    /// The CSRF token was missing or wrong.
    #[error("CSRF token missing or wrong")]
    Csrf,
    /// Signed in, but not allowed.
    #[error("forbidden")]
    Forbidden,
    /// No such thing, or not this tenant's (never tell which).
    #[error("not found")]
    NotFound,
    /// The request itself was unreadable.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The database did not answer.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a bug or an unexpected failure.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sea_orm::DbErr> for AppError {
    fn from(e: sea_orm::DbErr) -> Self {
        if crate::store::is_unavailable(&e) {
            AppError::Unavailable(e.to_string())
        } else {
            AppError::Internal(e.into())
        }
    }
}

/// What an error page shows, attached to the response so the page can be rendered later with
/// the request id.
#[derive(Debug, Clone)]
pub struct PageMessage(pub &'static str);

impl AppError {
    fn message(&self) -> &'static str {
        match self {
            AppError::SignInRequired { .. } => "Please sign in.",
            AppError::PasswordChangeRequired => "Choose your own password first.",
            AppError::TooManyTests => {
                "Your organisation has run many connection tests in the last few minutes. Wait five minutes, then go back and try again."
            }
            AppError::Csrf => {
                "This form has expired or did not come from this site. Go back, reload the page and try again."
            }
            AppError::Forbidden => "You do not have permission to do that.",
            AppError::NotFound => "There is nothing here.",
            AppError::BadRequest(_) => "The request could not be read.",
            AppError::Unavailable(_) => {
                "The portal cannot reach its database right now. Try again in a minute."
            }
            AppError::Internal(_) => {
                "Something went wrong on our side. Our team can trace it with the request id below."
            }
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::SignInRequired { .. } | AppError::PasswordChangeRequired => {
                StatusCode::SEE_OTHER
            }
            AppError::Csrf | AppError::Forbidden => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::TooManyTests => StatusCode::TOO_MANY_REQUESTS,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            AppError::Internal(e) => tracing::error!(error = ?e, "request failed"),
            AppError::Unavailable(e) => tracing::warn!(error = %e, "database unavailable"),
            AppError::Csrf => tracing::warn!("CSRF check failed"),
            _ => {}
        }
        if let AppError::SignInRequired { return_to } = self {
            let location = format!("/login?next={}", urlencode(return_to));
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .finish();
        }
        if let AppError::PasswordChangeRequired = self {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/account/password"))
                .finish();
        }
        let mut resp = HttpResponse::build(self.status_code()).finish();
        resp.extensions_mut().insert(PageMessage(self.message()));
        resp
    }
}

/// Sits outside the session middleware: a request whose session store could not reach the
/// database answers 503 with the error page, whatever its handler made of the empty session.
pub async fn session_store_outage(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> actix_web::Result<ServiceResponse<BoxBody>> {
    let (outcome, unreachable) = crate::store::sessions::noting_outage(next.call(req)).await;
    let unavailable =
        || AppError::Unavailable("the session store cannot reach the database".into());
    match outcome {
        Ok(res) if unreachable => Ok(ServiceResponse::from_err(unavailable(), res.into_parts().0)),
        // Writing the session failed after the handler, and actix-session kept no request to
        // render a page with: the answer is a bare 503.
        Err(_) if unreachable => Err(unavailable().into()),
        other => other.map(ServiceResponse::map_into_boxed_body),
    }
}

pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The error page.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: &'a str,
    request_id: String,
}

/// Renders an HTML page for error responses that do not carry one already (ours, and actix's
/// own 404/405/400), so no internal text ever reaches the browser.
pub fn render_error_page<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let status = res.status();
    let is_html = res
        .response()
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.to_str().is_ok_and(|v| v.starts_with("text/html")));
    let message = res.response().extensions().get::<PageMessage>().cloned();
    if is_html && message.is_none() {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let request_id = res
        .request()
        .extensions()
        .get::<tracing_actix_web::RequestId>()
        .map(|id| id.to_string())
        .unwrap_or_default();
    let page = ErrorPage {
        status: status.as_u16(),
        title: status.canonical_reason().unwrap_or("Error"),
        message: message
            .map(|m| m.0)
            .unwrap_or_else(|| default_message(status)),
        request_id,
    };
    let body = page.render().unwrap_or_else(|_| "Error".to_string());
    let (req, mut resp) = res.into_parts();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    let resp = resp.set_body(body).map_into_boxed_body();
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, resp).map_into_right_body(),
    ))
}

fn default_message(status: StatusCode) -> &'static str {
    match status.as_u16() {
        404 => "There is nothing here.",
        405 => "That page does not accept this kind of request.",
        413 => "That request is too large.",
        400..=499 => "The request could not be read.",
        _ => "Something went wrong on our side. Our team can trace it with the request id below.",
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sea_orm::{DbErr, RuntimeErr, sqlx};

    use super::*;

    #[test]
    fn a_connection_lost_during_a_query_answers_503_and_other_database_errors_500() {
        let reset = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        let lost = DbErr::Query(RuntimeErr::SqlxError(Arc::new(sqlx::Error::Io(reset))));
        assert_eq!(AppError::from(lost).status_code(), 503);
        let bug = DbErr::Query(RuntimeErr::SqlxError(Arc::new(sqlx::Error::RowNotFound)));
        assert_eq!(AppError::from(bug).status_code(), 500);
    }
}
