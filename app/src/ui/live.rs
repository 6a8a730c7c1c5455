//! Keeps a page current: listens to the tenant's `catalog:updated` server-sent events (in the
//! browser only) and runs `refresh` on each.

pub fn on_catalog_updated(refresh: impl Fn() + Clone + 'static) {
    #[cfg(feature = "hydrate")]
    leptos::prelude::Effect::new(move |_| {
        use leptos::prelude::{on_cleanup, StoredValue, UpdateValue};
        use wasm_bindgen::closure::Closure;
        use wasm_bindgen::JsCast;

        let Ok(source) = web_sys::EventSource::new("/api/catalog/events") else { return };
        let refresh = refresh.clone();
        let listener = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |_: web_sys::MessageEvent| refresh());
        let _ = source.add_event_listener_with_callback("catalog:updated", listener.as_ref().unchecked_ref());
        let held = StoredValue::new_local(Some((source, listener)));
        on_cleanup(move || {
            held.update_value(|held| {
                if let Some((source, _listener)) = held.take() {
                    source.close();
                }
            })
        });
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = refresh;
}
