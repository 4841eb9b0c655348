-- A message's composition is stored before it is sent: its rows carry its
-- key (batch_id) and whether it is a digest, so a redelivery sends the
-- same message. Rows batched before this were digests.

-- +goose Up
ALTER TABLE outbox ADD COLUMN digest INTEGER NOT NULL DEFAULT 0 CHECK (digest IN (0, 1));
UPDATE outbox SET digest = 1 WHERE batch_id <> '';
CREATE INDEX outbox_batch_id ON outbox (batch_id) WHERE batch_id <> '';
CREATE INDEX outbox_claim_owner ON outbox (claim_owner) WHERE claim_owner <> '';

-- +goose Down
DROP INDEX outbox_claim_owner;
DROP INDEX outbox_batch_id;
ALTER TABLE outbox DROP COLUMN digest;
