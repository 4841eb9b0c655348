-- A message's composition is stored before it is sent: its rows carry its
-- key (batch_id) and whether it is a digest, so a redelivery sends the
-- same message. Rows batched before this were digests.

-- +goose Up
ALTER TABLE outbox ADD COLUMN digest boolean NOT NULL DEFAULT false;
UPDATE outbox SET digest = true WHERE batch_id <> '';
CREATE INDEX outbox_batch_id ON outbox (batch_id) WHERE batch_id <> '';
CREATE INDEX outbox_claim_owner ON outbox (claim_owner) WHERE claim_owner <> '';

-- +goose Down
DROP INDEX outbox_claim_owner;
DROP INDEX outbox_batch_id;
ALTER TABLE outbox DROP COLUMN digest;
