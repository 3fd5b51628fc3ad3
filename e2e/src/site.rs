//! A stand-in customer website on its own origin, serving one page that embeds the widget
//! exactly as a site owner would.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A running site; stops when dropped.
pub struct Site {
    /// The site's origin, e.g. `http://127.0.0.1:41234`.
    pub origin: String,
    task: JoinHandle<()>,
}

impl Drop for Site {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Site {
    /// Serves `html` for every path on a free loopback port.
    pub async fn start(html: String) -> Site {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind site");
        let origin = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let html = html.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let _ = stream.read(&mut buf).await;
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                        html.len(),
                        html
                    );
                    let _ = stream.write_all(resp.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Site { origin, task }
    }

    /// A shop page embedding the widget of `gateway` for `campaign`.
    pub fn embed_page(gateway: &str, campaign: &str) -> String {
        format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Shop</title></head>\
             <body><h1>A customer's shop</h1>\
             <script src=\"{gateway}/widget.js\" data-campaign=\"{campaign}\" async></script>\
             </body></html>"
        )
    }
}
