//! Keeps pages current: one socket per browser tab (`GET /api/ws`), opened when the first live
//! component mounts and shared by all of them. Each component names a topic and a handler;
//! the socket subscribes to the topics mounted, reconnects with growing pauses when it drops,
//! and asks for what it missed (`after` the last id it saw). When the server cannot replay
//! everything it says so, and every handler runs, so each refreshes what it shows.

use crate::events::model::LiveMessage;

/// Runs `handler` for each event of `topic` while the calling component is mounted (in the
/// browser only: the server renders the page as it is).
pub fn on_live(topic: &'static str, handler: impl Fn(&LiveMessage) + 'static) {
    #[cfg(feature = "hydrate")]
    {
        let handler: std::rc::Rc<dyn Fn(&LiveMessage)> = std::rc::Rc::new(handler);
        leptos::prelude::Effect::new(move |_| {
            let id = socket::listen(topic, handler.clone());
            leptos::prelude::on_cleanup(move || socket::forget(id));
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (topic, handler);
}

/// The page was rendered when `after` was the latest event: its socket's first subscription
/// asks for what came since (in the browser; before any live component opens the socket).
pub fn resume_after(after: i64) {
    #[cfg(feature = "hydrate")]
    socket::resume_after(after);
    #[cfg(not(feature = "hydrate"))]
    let _ = after;
}

/// Runs `refresh` whenever the tenant's catalog changes.
pub fn on_catalog_updated(refresh: impl Fn() + 'static) {
    on_live("catalog", move |_| refresh());
}

#[cfg(feature = "hydrate")]
mod socket {
    use std::cell::RefCell;
    use std::rc::Rc;
    use std::time::Duration;

    use leptos::prelude::{set_timeout, window};
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    use web_sys::{MessageEvent, WebSocket};

    use crate::events::model::{topic, LiveMessage, Subscribe, REPLAY_INCOMPLETE};

    type Handler = Rc<dyn Fn(&LiveMessage)>;
    /// The socket's open, message and close callbacks, kept alive as long as it is.
    type Callbacks = [Closure<dyn FnMut(web_sys::Event)>; 3];

    /// The longest pause between reconnection attempts.
    const MAX_RETRY_MS: u64 = 30_000;

    #[derive(Default)]
    struct Live {
        listeners: Vec<(u64, &'static str, Handler)>,
        next_id: u64,
        socket: Option<(WebSocket, Callbacks)>,
        last_id: Option<i64>,
        retry_ms: u64,
    }

    thread_local! {
        static LIVE: RefCell<Live> = RefCell::new(Live::default());
    }

    pub fn listen(topic: &'static str, handler: Handler) -> u64 {
        let id = LIVE.with_borrow_mut(|live| {
            live.next_id += 1;
            live.listeners.push((live.next_id, topic, handler));
            live.next_id
        });
        match LIVE.with_borrow(|live| live.socket.as_ref().map(|(socket, _)| socket.ready_state())) {
            None => open(),
            Some(WebSocket::OPEN) => subscribe(),
            // Connecting: it subscribes to every mounted topic once open.
            Some(_) => {}
        }
        id
    }

    pub fn resume_after(after: i64) {
        LIVE.with_borrow_mut(|live| {
            live.last_id.get_or_insert(after);
        });
    }

    pub fn forget(id: u64) {
        LIVE.with_borrow_mut(|live| live.listeners.retain(|(listener, _, _)| *listener != id));
    }

    fn topics() -> Vec<String> {
        let mut topics: Vec<String> =
            LIVE.with_borrow(|live| live.listeners.iter().map(|(_, topic, _)| (*topic).to_owned()).collect());
        topics.sort();
        topics.dedup();
        topics
    }

    fn subscribe() {
        let request = Subscribe { subscribe: topics(), after: LIVE.with_borrow(|live| live.last_id) };
        let text = serde_json::to_string(&request).unwrap_or_default();
        LIVE.with_borrow(|live| {
            if let Some((socket, _)) = &live.socket {
                let _ = socket.send_with_str(&text);
            }
        });
    }

    fn open() {
        let location = window().location();
        let scheme = if location.protocol().as_deref() == Ok("https:") { "wss" } else { "ws" };
        let Ok(host) = location.host() else { return };
        let Ok(socket) = WebSocket::new(&format!("{scheme}://{host}/api/ws")) else { return };
        let on_open = Closure::<dyn FnMut(web_sys::Event)>::new(|_| {
            LIVE.with_borrow_mut(|live| live.retry_ms = 0);
            subscribe();
            mark_body(true);
        });
        let on_message = Closure::<dyn FnMut(web_sys::Event)>::new(|event: web_sys::Event| {
            let Some(text) = event.dyn_ref::<MessageEvent>().and_then(|m| m.data().as_string()) else { return };
            if let Ok(message) = serde_json::from_str::<LiveMessage>(&text) {
                dispatch(&message);
            }
        });
        let on_close = Closure::<dyn FnMut(web_sys::Event)>::new(|_| {
            mark_body(false);
            let pause = LIVE.with_borrow_mut(|live| {
                live.socket = None;
                live.retry_ms = (live.retry_ms * 2).clamp(1_000, MAX_RETRY_MS);
                (!live.listeners.is_empty()).then_some(live.retry_ms)
            });
            if let Some(pause) = pause {
                set_timeout(open, Duration::from_millis(pause));
            }
        });
        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        LIVE.with_borrow_mut(|live| live.socket = Some((socket, [on_open, on_message, on_close])));
    }

    /// `data-live="open"` on the body while the socket is open, so people's tools (and tests)
    /// can tell the page is live.
    fn mark_body(open: bool) {
        if let Some(body) = leptos::prelude::document().body() {
            let _ = match open {
                true => body.set_attribute("data-live", "open"),
                false => body.remove_attribute("data-live"),
            };
        }
    }

    /// Runs the handlers of the message's topic (all of them for an incomplete replay), with
    /// no borrow held: a handler may mount or unmount components.
    fn dispatch(message: &LiveMessage) {
        let everyone = message.kind == REPLAY_INCOMPLETE;
        let handlers: Vec<Handler> = LIVE.with_borrow_mut(|live| {
            if let Some(id) = message.id {
                live.last_id = Some(live.last_id.map_or(id, |last| last.max(id)));
            }
            live.listeners
                .iter()
                .filter(|(_, listens_to, _)| everyone || *listens_to == topic(&message.kind))
                .map(|(_, _, handler)| handler.clone())
                .collect()
        });
        for handler in handlers {
            handler(message);
        }
    }
}
