//! Static website hosting through the AWS SDK for S3 and plain HTTP to the
//! website endpoint (`Host: <bucket>.s3-website.localhost`). Expected
//! answers follow S3's website hosting guide: the index document for `/`
//! and `dir/`, a 302 to `dir/` for `dir`, the error document with a 404,
//! routing rules' redirects (301 unless told), an object's
//! `x-amz-website-redirect-location` as a 301, 405 for writes, and only
//! what the public may read.

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    Condition, ErrorDocument, IndexDocument, ObjectCannedAcl, Redirect, RoutingRule,
    WebsiteConfiguration,
};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::rt::TokioExecutor;

use crate::s3_api::{client, code};
use crate::streams::{Server, runtime};

/// A website request's status, headers and body.
async fn ask(
    server: &Server,
    bucket: &str,
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
) -> (u16, hyper::HeaderMap, String) {
    let http: HttpClient<_, Empty<bytes::Bytes>> =
        HttpClient::builder(TokioExecutor::new()).build_http();
    let port = server.endpoint.rsplit(':').next().unwrap();
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(format!("{}{path}", server.endpoint))
        .header("host", format!("{bucket}.s3-website.localhost:{port}"));
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    let response = http
        .request(request.body(Empty::new()).unwrap())
        .await
        .unwrap();
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

fn header(headers: &hyper::HeaderMap, name: &str) -> Option<String> {
    headers.get(name).map(|v| v.to_str().unwrap().to_string())
}

/// (status, Location, Content-Type, body) of a website request.
async fn visit(
    server: &Server,
    bucket: &str,
    method: &str,
    path: &str,
) -> (u16, Option<String>, Option<String>, String) {
    let (status, headers, body) = ask(server, bucket, method, path, &[]).await;
    let (location, content_type) = (
        header(&headers, "location"),
        header(&headers, "content-type"),
    );
    (status, location, content_type, body)
}

/// (status, Content-Range, body) of a ranged website GET.
async fn ranged_visit(
    server: &Server,
    bucket: &str,
    path: &str,
    range: &str,
) -> (u16, Option<String>, String) {
    let (status, headers, body) = ask(server, bucket, "GET", path, &[("range", range)]).await;
    (status, header(&headers, "content-range"), body)
}

async fn page(s3: &Client, bucket: &str, key: &str, html: &'static str, public: bool) {
    let mut put = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type("text/html")
        .body(ByteStream::from_static(html.as_bytes()));
    if public {
        put = put.acl(ObjectCannedAcl::PublicRead);
    }
    put.send().await.unwrap();
}

fn site() -> WebsiteConfiguration {
    WebsiteConfiguration::builder()
        .index_document(
            IndexDocument::builder()
                .suffix("index.html")
                .build()
                .unwrap(),
        )
        .error_document(ErrorDocument::builder().key("error.html").build().unwrap())
        .routing_rules(
            RoutingRule::builder()
                .condition(Condition::builder().key_prefix_equals("old/").build())
                .redirect(Redirect::builder().replace_key_prefix_with("docs/").build())
                .build(),
        )
        .build()
}

#[test]
fn a_bucket_serves_its_website_as_s3_does() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let s3 = client(&server, "test", "test");
    runtime().block_on(async {
        s3.create_bucket().bucket("my-site").send().await.unwrap();
        let none = s3
            .get_bucket_website()
            .bucket("my-site")
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&none), "NoSuchWebsiteConfiguration");
        let (status, _, _, body) = visit(&server, "my-site", "GET", "/").await;
        assert_eq!(status, 404);
        assert!(body.contains("NoSuchWebsiteConfiguration"), "{body}");

        page(&s3, "my-site", "index.html", "<h1>home</h1>", false).await;
        page(&s3, "my-site", "docs/index.html", "<h1>docs</h1>", false).await;
        page(&s3, "my-site", "error.html", "<h1>lost</h1>", false).await;
        s3.put_object()
            .bucket("my-site")
            .key("about.html")
            .website_redirect_location("/index.html")
            .body(ByteStream::from_static(b""))
            .send()
            .await
            .unwrap();
        let head = s3
            .head_object()
            .bucket("my-site")
            .key("about.html")
            .send()
            .await
            .unwrap();
        assert_eq!(head.website_redirect_location(), Some("/index.html"));

        let slash = WebsiteConfiguration::builder()
            .index_document(IndexDocument::builder().suffix("a/b").build().unwrap())
            .build();
        let refused = s3
            .put_bucket_website()
            .bucket("my-site")
            .website_configuration(slash)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&refused), "InvalidArgument");
        s3.put_bucket_website()
            .bucket("my-site")
            .website_configuration(site())
            .send()
            .await
            .unwrap();
        let got = s3
            .get_bucket_website()
            .bucket("my-site")
            .send()
            .await
            .unwrap();
        assert_eq!(got.index_document().map(|i| i.suffix()), Some("index.html"));
        assert_eq!(got.routing_rules().len(), 1);

        let (status, _, content_type, body) = visit(&server, "my-site", "GET", "/").await;
        assert_eq!((status, body.as_str()), (200, "<h1>home</h1>"));
        assert_eq!(content_type.as_deref(), Some("text/html"));
        let (status, _, _, body) = visit(&server, "my-site", "GET", "/docs/").await;
        assert_eq!((status, body.as_str()), (200, "<h1>docs</h1>"));
        let (status, location, _, _) = visit(&server, "my-site", "GET", "/docs").await;
        assert_eq!((status, location.as_deref()), (302, Some("/docs/")));
        let (status, _, _, body) = visit(&server, "my-site", "GET", "/nothing.html").await;
        assert_eq!((status, body.as_str()), (404, "<h1>lost</h1>"));
        let (status, location, _, _) = visit(&server, "my-site", "GET", "/old/a.html").await;
        let port = server.endpoint.rsplit(':').next().unwrap();
        let moved = format!("http://my-site.s3-website.localhost:{port}/docs/a.html");
        assert_eq!((status, location), (301, Some(moved)));
        let (status, location, _, _) = visit(&server, "my-site", "GET", "/about.html").await;
        assert_eq!((status, location.as_deref()), (301, Some("/index.html")));
        let ranged = ranged_visit(&server, "my-site", "/index.html", "bytes=4-7").await;
        assert_eq!(
            ranged,
            (206, Some("bytes 4-7/13".to_string()), "home".to_string())
        );
        let past = ranged_visit(&server, "my-site", "/index.html", "bytes=100-").await;
        assert_eq!(past.0, 416);
        let (status, _, _, body) = visit(&server, "my-site", "HEAD", "/").await;
        assert_eq!((status, body.as_str()), (200, ""));
        let (status, _, _, _) = visit(&server, "my-site", "PUT", "/x.html").await;
        assert_eq!(status, 405);

        // The bucket's CORS rules answer browsers on the website endpoint.
        let rule = aws_sdk_s3::types::CorsRule::builder()
            .allowed_origins("https://app.example")
            .allowed_methods("GET")
            .build()
            .unwrap();
        s3.put_bucket_cors()
            .bucket("my-site")
            .cors_configuration(
                aws_sdk_s3::types::CorsConfiguration::builder()
                    .cors_rules(rule)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        let (status, headers, _) = ask(
            &server,
            "my-site",
            "OPTIONS",
            "/",
            &[
                ("origin", "https://app.example"),
                ("access-control-request-method", "GET"),
            ],
        )
        .await;
        assert_eq!(status, 200);
        let allowed = header(&headers, "access-control-allow-origin");
        assert_eq!(allowed.as_deref(), Some("https://app.example"));
        let (status, headers, _) = ask(
            &server,
            "my-site",
            "GET",
            "/",
            &[("origin", "https://app.example")],
        )
        .await;
        assert_eq!(status, 200);
        let allowed = header(&headers, "access-control-allow-origin");
        assert_eq!(allowed.as_deref(), Some("https://app.example"));

        s3.delete_bucket_website()
            .bucket("my-site")
            .send()
            .await
            .unwrap();
        let none = s3
            .get_bucket_website()
            .bucket("my-site")
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&none), "NoSuchWebsiteConfiguration");
    });
}

#[test]
fn a_website_serves_only_what_the_public_may_read() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--access-keys", "AKOWNER:ownersecret"]);
    let s3 = client(&server, "AKOWNER", "ownersecret");
    runtime().block_on(async {
        s3.create_bucket()
            .bucket("half-public")
            .send()
            .await
            .unwrap();
        page(&s3, "half-public", "index.html", "<h1>open</h1>", true).await;
        page(&s3, "half-public", "private.html", "<h1>closed</h1>", false).await;
        s3.put_bucket_website()
            .bucket("half-public")
            .website_configuration(
                WebsiteConfiguration::builder()
                    .index_document(
                        IndexDocument::builder()
                            .suffix("index.html")
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let (status, _, _, body) = visit(&server, "half-public", "GET", "/").await;
        assert_eq!((status, body.as_str()), (200, "<h1>open</h1>"));
        let (status, _, _, body) = visit(&server, "half-public", "GET", "/private.html").await;
        assert_eq!(status, 403);
        assert!(
            body.contains("AccessDenied") && !body.contains("closed"),
            "{body}"
        );
    });
}
