//! The built-in dashboard (`host/ui/`): a static page embedded in the binary,
//! so it works offline on a Pi. Every asset is gzipped once, on first use,
//! and answered with an ETag; browsers revalidate (`no-cache`), so a new
//! binary's page shows up at once while an unchanged one costs a 304.
//! The page reads and changes everything through the public API.

use super::ApiError;
use axum::extract::Path;
use axum::http::header::{ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_NONE_MATCH, VARY};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::Digest;
use std::io::Write;
use std::sync::OnceLock;

/// (file name, content type, bytes): `index.html` is served at `/`, the rest
/// under `/ui/`.
const FILES: [(&str, &str, &[u8]); 6] = [
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../../ui/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../ui/app.js"),
    ),
    ("app.css", "text/css; charset=utf-8", include_bytes!("../../ui/app.css")),
    (
        "uPlot.iife.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../ui/vendor/uPlot.iife.min.js"),
    ),
    (
        "uPlot.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../../ui/vendor/uPlot.min.css"),
    ),
    (
        "uPlot.LICENSE",
        "text/plain; charset=utf-8",
        include_bytes!("../../ui/vendor/uPlot.LICENSE"),
    ),
];

struct Asset {
    name: &'static str,
    mime: &'static str,
    raw: &'static [u8],
    gzip: Vec<u8>,
    etag: HeaderValue,
}

fn assets() -> &'static [Asset] {
    static ASSETS: OnceLock<Vec<Asset>> = OnceLock::new();
    ASSETS.get_or_init(|| {
        FILES
            .iter()
            .map(|&(name, mime, raw)| {
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                gz.write_all(raw).expect("gzip into memory");
                let gzip = gz.finish().expect("gzip into memory");
                let hash = hex::encode(&sha2::Sha256::digest(raw)[..12]);
                let etag = HeaderValue::from_str(&format!("\"{hash}\"")).expect("hex is a valid header");
                Asset {
                    name,
                    mime,
                    raw,
                    gzip,
                    etag,
                }
            })
            .collect()
    })
}

/// Whether a request is for the page or its assets: these hold no data, so
/// they are served without the API token (the page then asks for it).
pub fn is_public(method: &Method, path: &str) -> bool {
    (method == Method::GET || method == Method::HEAD) && (path == "/" || path.starts_with("/ui/"))
}

/// Total bytes of the page as a browser fetches it gzipped (for the docs).
pub fn compressed_bytes() -> usize {
    assets()
        .iter()
        .filter(|a| a.name != "uPlot.LICENSE")
        .map(|a| a.gzip.len())
        .sum()
}

fn serve(name: &str, headers: &HeaderMap) -> Response {
    let Some(asset) = assets().iter().find(|a| a.name == name) else {
        let names: Vec<&str> = FILES.iter().skip(1).map(|f| f.0).collect();
        return ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no dashboard file {name:?}; the page's files are {}", names.join(", ")),
        )
        .into_response();
    };
    let fresh = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim().trim_start_matches("W/") == asset.etag));
    let gzip = headers
        .get(ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.split(';').next().unwrap_or("").trim() == "gzip"));
    let common = [
        (ETAG, asset.etag.clone()),
        (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (VARY, HeaderValue::from_static("Accept-Encoding")),
    ];
    if fresh {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    let mut response = if gzip {
        (common, asset.gzip.clone()).into_response()
    } else {
        (common, asset.raw).into_response()
    };
    let h = response.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(asset.mime));
    if gzip {
        h.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

#[utoipa::path(
    get,
    path = "/",
    tag = "dashboard",
    summary = "The built-in dashboard (an HTML page)",
    description = "Items, charts, sources, sinks and plugins, read and changed through this API. Served without \
                   the API token (it holds no data; the page asks for the token when the API needs one). Gzipped \
                   when the client accepts it; `If-None-Match` with the `ETag` answers 304.",
    operation_id = "get_dashboard_page",
    responses(
        (status = 200, description = "The page", content_type = "text/html"),
        (status = 304, description = "Unchanged since the ETag sent"),
    ),
)]
pub async fn page(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

#[utoipa::path(
    get,
    path = "/ui/{file}",
    tag = "dashboard",
    summary = "A file of the built-in dashboard: its script, styles, and uPlot (the charts) with its licence",
    operation_id = "get_dashboard_file",
    params(("file" = String, Path, description = "app.js, app.css, uPlot.iife.min.js, uPlot.min.css or uPlot.LICENSE")),
    responses(
        (status = 200, description = "The file", content_type = "text/javascript"),
        (status = 304, description = "Unchanged since the ETag sent"),
        (status = 404, description = "No such file", body = super::openapi::ErrorBody),
    ),
)]
pub async fn file(Path(file): Path<String>, headers: HeaderMap) -> Response {
    if file == "index.html" {
        return serve("", &headers); // the page is `/`, one URL for it
    }
    serve(&file, &headers)
}
