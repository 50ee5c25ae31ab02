-- What the console's browser test shows: one user, a job in each state of
-- the default queue, and a payload and an error with HTML in them (shown as
-- text, never run).
INSERT INTO users (phone_number) VALUES ('+15551230000');

INSERT INTO jobs (id, user_id, user_phone, source_channel_id, source_type,
                  payload, status, attempts, last_error)
VALUES
  ('22222222-2222-4222-8222-000000000001',
   '+15551230000', '+15551230000', 'chat-a', 'dm',
   '{"Body": "<img src=x onerror=\"window.__injected = 1\">hello</b>"}',
   'pending', 0, NULL),
  ('22222222-2222-4222-8222-000000000002',
   '+15551230000', '+15551230000', 'chat-b', 'dm',
   '{"Body": "reply later"}', 'failed', 3,
   '<script>window.__injected = 2</script> downstream said 500');

-- Enough pending jobs for a second page.
INSERT INTO jobs (user_id, user_phone, source_channel_id, source_type, payload)
SELECT '+15551230000', '+15551230000',
       'bulk-' || (i % 7), 'group', jsonb_build_object('Body', 'bulk ' || i)
FROM generate_series(1, 60) i;

-- A failed job with its dead letter, as FailJob writes it, its reason with
-- HTML in it.
INSERT INTO jobs (id, user_id, user_phone, source_channel_id, source_type,
                  payload, status, attempts, last_error)
VALUES ('22222222-2222-4222-8222-000000000003', '+15551230000',
        '+15551230000', 'chat-d', 'dm', '{"Body": "dead"}', 'failed', 5,
        '<i>gave up</i> after 5 attempts');
INSERT INTO dlq_jobs (source, delivery_id, reason, raw_payload, job_id)
VALUES ('jobqueue.jobs', '22222222-2222-4222-8222-000000000003',
        '<i>gave up</i> after 5 attempts', '{"Body": "dead"}',
        '22222222-2222-4222-8222-000000000003');

-- A conversation whose head a worker holds, with two jobs behind it.
INSERT INTO jobs (id, user_id, user_phone, source_channel_id, source_type,
                  payload, status, attempts, worker_id, lease_token,
                  lease_expires_at)
VALUES ('22222222-2222-4222-8222-000000000004', '+15551230000',
        '+15551230000', 'chat-c', 'dm', '{"Body": "first"}', 'processing', 1,
        'worker-7', gen_random_uuid(), now() + interval '1 hour');
INSERT INTO jobs (user_id, user_phone, source_channel_id, source_type, payload)
VALUES ('+15551230000', '+15551230000', 'chat-c', 'dm', '{"Body": "second"}'),
       ('+15551230000', '+15551230000', 'chat-c', 'dm', '{"Body": "third"}');
