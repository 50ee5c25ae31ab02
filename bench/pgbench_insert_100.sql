-- Baseline: one 100-row INSERT into jobs per transaction (EnqueueJobs of 100),
-- rows in conversation order (the row trigger locks each conversation's row,
-- so concurrent inserts in another order could deadlock).
INSERT INTO jobs (user_id, user_phone, source_channel_id, source_type, payload)
SELECT '+15551000000', '+15551000000', channel, 'dm',
       '{"Body": "benchmark message body of a typical size", "MessageSid": "SMbench"}'
FROM (SELECT 'bench-' || (random() * 1000)::int AS channel
      FROM generate_series(1, 100)) rows
ORDER BY channel;
