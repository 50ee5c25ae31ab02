-- Baseline: one single-row INSERT into jobs per transaction.
INSERT INTO jobs (user_id, user_phone, source_channel_id, source_type, payload)
VALUES ('+15551000000', '+15551000000', 'bench-' || (random() * 1000)::int, 'dm',
        '{"Body": "benchmark message body of a typical size", "MessageSid": "SMbench"}');
