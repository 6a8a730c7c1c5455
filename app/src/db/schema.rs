//! Diesel table definitions. Control tables are schema-qualified; tenant tables are not, so
//! they resolve through the search path that `with_tenant` sets.

diesel::table! {
    control.tenants (id) {
        id -> Int8,
        slug -> Text,
        name -> Text,
        schema_name -> Text,
        status -> Text,
        created_at -> Timestamptz,
        plan -> Text,
        mfa_policy -> Text,
        ip_allowlist -> Jsonb,
        sso_required -> Bool,
    }
}

diesel::table! {
    control.users (id) {
        id -> Uuid,
        email -> Text,
        display_name -> Text,
        password_hash -> Nullable<Text>,
        created_at -> Timestamptz,
        must_change_password -> Bool,
        password_changed_at -> Nullable<Timestamptz>,
        totp_secret -> Nullable<Bytea>,
        totp_key_id -> Nullable<Text>,
        totp_enabled_at -> Nullable<Timestamptz>,
        totp_last_step -> Nullable<Int8>,
    }
}

diesel::table! {
    control.recovery_codes (user_id, code_hash) {
        user_id -> Uuid,
        code_hash -> Bytea,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    control.memberships (tenant_id, user_id) {
        tenant_id -> Int8,
        user_id -> Uuid,
        role -> Text,
        status -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(memberships -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(users, memberships);

diesel::table! {
    audit_events (id) {
        id -> Int8,
        occurred_at -> Timestamptz,
        actor_user_id -> Nullable<Uuid>,
        actor -> Text,
        action -> Text,
        target -> Text,
        outcome -> Text,
        severity -> Text,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        request_id -> Nullable<Text>,
        details -> Jsonb,
        personal_salt -> Nullable<Bytea>,
        personal_digest -> Nullable<Bytea>,
        content_hash -> Nullable<Bytea>,
    }
}

diesel::table! {
    audit_chain (seq) {
        seq -> Int8,
        event_id -> Int8,
        chain_hash -> Bytea,
    }
}

diesel::table! {
    audit_chain_head (singleton) {
        singleton -> Bool,
        seq -> Int8,
        hash -> Bytea,
    }
}

diesel::table! {
    audit_checkpoints (seq) {
        seq -> Int8,
        chain_hash -> Bytea,
        signed_at -> Timestamptz,
        key_id -> Text,
        signature -> Bytea,
    }
}

diesel::table! {
    audit_archives (month) {
        month -> Date,
        state -> Text,
        started_at -> Timestamptz,
        archived_at -> Nullable<Timestamptz>,
        restored_at -> Nullable<Timestamptz>,
        manifest -> Nullable<Jsonb>,
        superseded_object -> Nullable<Text>,
    }
}

diesel::table! {
    audit_archive_erasures (id) {
        id -> Int8,
        month -> Date,
        key_id -> Text,
        sealed -> Bytea,
        requested_at -> Timestamptz,
        attempts -> Int4,
        last_error -> Nullable<Text>,
    }
}

diesel::joinable!(audit_archive_erasures -> audit_archives (month));
diesel::allow_tables_to_appear_in_same_query!(audit_archive_erasures, audit_archives);

diesel::table! {
    audit_retention (singleton) {
        singleton -> Bool,
        hot_days -> Int4,
        updated_at -> Timestamptz,
        updated_by -> Text,
    }
}

diesel::joinable!(audit_chain -> audit_events (event_id));
diesel::allow_tables_to_appear_in_same_query!(audit_events, audit_chain);

diesel::table! {
    entities (id) {
        id -> Uuid,
        entity_ref -> Text,
        kind -> Text,
        namespace -> Text,
        name -> Text,
        etag -> Text,
        document -> Text,
        title -> Nullable<Text>,
        description -> Nullable<Text>,
        owner_ref -> Nullable<Text>,
        spec_type -> Nullable<Text>,
        lifecycle -> Nullable<Text>,
        tags -> Array<Text>,
        search_text -> Text,
        source -> Text,
        updated_at -> Timestamptz,
        location_id -> Nullable<Uuid>,
        parent_ref -> Nullable<Text>,
        content_hash -> Nullable<Bytea>,
        filters -> Array<Text>,
        counted_values -> Array<Text>,
        facet_values -> Array<Text>,
    }
}

diesel::table! {
    entity_relations (originating_entity_id, source_ref, relation, target_ref) {
        originating_entity_id -> Uuid,
        source_ref -> Text,
        relation -> Text,
        target_ref -> Text,
    }
}

diesel::table! {
    /// A view: one row per value of each entity's paths (migration 2026-12-06-000044).
    entity_values (entity_id, key, original_value) {
        entity_id -> Uuid,
        key -> Text,
        original_value -> Text,
    }
}

diesel::table! {
    /// Which entities each catalog write touched, in commit order (migration 2026-12-06-000045).
    entity_changes (seq) {
        seq -> Int8,
        ids -> Array<Uuid>,
    }
}

diesel::table! {
    entity_facet_counts (key, kind, value) {
        key -> Text,
        kind -> Text,
        value -> Text,
        entities -> Int8,
    }
}

diesel::table! {
    locations (id) {
        id -> Uuid,
        #[sql_name = "type"]
        location_type -> Text,
        target -> Text,
        created_at -> Timestamptz,
        created_by -> Text,
        refreshed_at -> Nullable<Timestamptz>,
        refresh_error -> Nullable<Text>,
    }
}

diesel::table! {
    fetch_allowlist (pattern) {
        pattern -> Text,
        created_at -> Timestamptz,
        created_by -> Text,
    }
}

diesel::table! {
    import_jobs (id) {
        id -> Uuid,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        created_by -> Text,
        source -> Text,
        status -> Text,
        total -> Int4,
        processed -> Int4,
        report -> Nullable<Jsonb>,
        error -> Nullable<Text>,
    }
}

diesel::joinable!(entities -> locations (location_id));
diesel::allow_tables_to_appear_in_same_query!(entities, entity_relations, entity_values, locations);

diesel::table! {
    catalog_state (singleton) {
        singleton -> Bool,
        version -> Int8,
    }
}

diesel::table! {
    audit_destinations (id) {
        id -> Uuid,
        name -> Text,
        url -> Text,
        secret -> Bytea,
        secret_key_id -> Text,
        created_at -> Timestamptz,
        created_by -> Text,
        delivered_seq -> Int8,
        failures -> Int4,
        next_attempt_at -> Timestamptz,
        leased_until -> Nullable<Timestamptz>,
        last_success_at -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    audit_deliveries (id) {
        id -> Int8,
        destination_id -> Uuid,
        delivery_id -> Uuid,
        attempted_at -> Timestamptz,
        first_seq -> Int8,
        last_seq -> Int8,
        events -> Int4,
        status -> Nullable<Int2>,
        error -> Nullable<Text>,
        duration_ms -> Int4,
    }
}

diesel::joinable!(audit_deliveries -> audit_destinations (destination_id));
diesel::allow_tables_to_appear_in_same_query!(audit_destinations, audit_deliveries);

diesel::table! {
    usage_counts (metric, day, subject) {
        day -> Date,
        metric -> Text,
        subject -> Text,
        count -> Int8,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Uuid,
        user_id -> Uuid,
        name -> Text,
        prefix -> Text,
        secret_hash -> Bytea,
        scopes -> Array<Text>,
        expires_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
        last_used_ip -> Nullable<Text>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    api_requests (id) {
        id -> Int8,
        at -> Timestamptz,
        api_key_id -> Nullable<Uuid>,
        oauth_client_id -> Nullable<Text>,
        user_id -> Nullable<Uuid>,
        method -> Text,
        route -> Text,
        path -> Text,
        status -> Int2,
        latency_us -> Int4,
        ip -> Nullable<Text>,
    }
}

diesel::table! {
    oauth_clients (id) {
        id -> Uuid,
        client_id -> Text,
        name -> Text,
        secret_hash -> Bytea,
        scopes -> Array<Text>,
        role -> Text,
        created_by -> Uuid,
        created_at -> Timestamptz,
        last_token_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    sso_providers (id) {
        id -> Uuid,
        kind -> Text,
        name -> Text,
        issuer -> Text,
        client_id -> Text,
        client_secret -> Bytea,
        secret_key_id -> Text,
        default_role -> Text,
        allowed_domains -> Array<Text>,
        created_at -> Timestamptz,
        role_claim -> Nullable<Text>,
        role_mapping -> Jsonb,
        organization -> Nullable<Text>,
    }
}

diesel::table! {
    sso_identities (provider_id, subject) {
        provider_id -> Uuid,
        subject -> Text,
        user_id -> Uuid,
        email -> Text,
        linked_at -> Timestamptz,
        last_login_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    saml_providers (provider_id) {
        provider_id -> Uuid,
        sso_url -> Text,
        signing_certificates -> Array<Bytea>,
        sp_certificate -> Bytea,
        preset -> Text,
        email_attribute -> Nullable<Text>,
        first_name_attribute -> Nullable<Text>,
        last_name_attribute -> Nullable<Text>,
        allow_sha1 -> Bool,
        allow_idp_initiated -> Bool,
        clock_skew_seconds -> Integer,
    }
}

diesel::joinable!(sso_identities -> sso_providers (provider_id));
diesel::joinable!(saml_providers -> sso_providers (provider_id));
diesel::allow_tables_to_appear_in_same_query!(sso_providers, sso_identities, saml_providers);

diesel::table! {
    events (id) {
        id -> Int8,
        kind -> Text,
        visible_to -> Nullable<Text>,
        user_id -> Nullable<Uuid>,
        payload -> Jsonb,
        occurred_at -> Timestamptz,
    }
}

diesel::table! {
    notifications (id) {
        id -> Int8,
        user_id -> Uuid,
        kind -> Text,
        title -> Text,
        body -> Text,
        link -> Nullable<Text>,
        created_at -> Timestamptz,
        read_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    notification_preferences (user_id, kind) {
        user_id -> Uuid,
        kind -> Text,
        channel -> Text,
    }
}

diesel::table! {
    mail_outbox (id) {
        id -> Int8,
        notification_id -> Int8,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        sent_at -> Nullable<Timestamptz>,
        gave_up_at -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(mail_outbox -> notifications (notification_id));
diesel::allow_tables_to_appear_in_same_query!(mail_outbox, notifications);

diesel::table! {
    webhooks (id) {
        id -> Uuid,
        name -> Text,
        url -> Text,
        kinds -> Array<Text>,
        secret -> Bytea,
        secret_key_id -> Text,
        enabled -> Bool,
        disabled_reason -> Nullable<Text>,
        failing_since -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        created_by -> Text,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Uuid,
        webhook_id -> Uuid,
        event_id -> Nullable<Int8>,
        kind -> Text,
        payload -> Jsonb,
        occurred_at -> Timestamptz,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        retry_until -> Timestamptz,
        delivered_at -> Nullable<Timestamptz>,
        gave_up_at -> Nullable<Timestamptz>,
        last_status -> Nullable<Int2>,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    webhook_attempts (id) {
        id -> Int8,
        delivery_id -> Uuid,
        attempted_at -> Timestamptz,
        request_headers -> Jsonb,
        status -> Nullable<Int2>,
        response_body -> Nullable<Text>,
        error -> Nullable<Text>,
        duration_ms -> Int4,
    }
}

diesel::joinable!(webhook_deliveries -> webhooks (webhook_id));
diesel::joinable!(webhook_attempts -> webhook_deliveries (delivery_id));
diesel::allow_tables_to_appear_in_same_query!(webhooks, webhook_deliveries, webhook_attempts);

diesel::table! {
    cicd_integrations (provider) {
        provider -> Text,
        secret -> Bytea,
        secret_key_id -> Text,
        created_at -> Timestamptz,
        created_by -> Text,
        received -> Int8,
        refused -> Int8,
        last_received_at -> Nullable<Timestamptz>,
        last_refused_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    deployments (id) {
        id -> Int8,
        provider -> Text,
        external_id -> Text,
        kind -> Text,
        annotation -> Text,
        project -> Text,
        entity_refs -> Array<Text>,
        name -> Nullable<Text>,
        environment -> Nullable<Text>,
        version -> Nullable<Text>,
        commit_sha -> Nullable<Text>,
        commit_at -> Nullable<Timestamptz>,
        status -> Text,
        started_at -> Nullable<Timestamptz>,
        finished_at -> Nullable<Timestamptz>,
        url -> Nullable<Text>,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    notification_digests (user_id) {
        user_id -> Uuid,
        last_sent_at -> Timestamptz,
    }
}
