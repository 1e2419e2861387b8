-- Large payloads (docs/adr/0011): a workflow input or output of several MB is stored in full,
-- but a tsvector holds at most 1 MB, and jsonb_to_tsvector of a large document of distinct
-- words raised "string is too long for tsvector", failing the projector's batch for good.
-- Documents up to 128 KiB of JSON text are indexed in full as before; beyond that, freeText
-- search covers the first 16,384 characters of the input's and of the output's JSON text (a
-- tsvector takes at most ~5 bytes per byte of the text it indexes, so both stay under 1 MB).
-- A size test rather than an EXCEPTION block, which would open a subtransaction for every row
-- of every batch; the text length rather than pg_column_size, which may be the compressed
-- size. The trigger runs on insert and when input or output change only.
CREATE OR REPLACE FUNCTION workflows_search_text() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    input_text text := NEW.input::text;
    output_text text := NEW.output::text;
BEGIN
    IF octet_length(input_text) + octet_length(output_text) <= 131072 THEN
        NEW.search_text :=
            jsonb_to_tsvector('simple'::regconfig, NEW.input, '["string", "numeric", "key"]')
            || jsonb_to_tsvector('simple'::regconfig, NEW.output, '["string", "numeric", "key"]');
    ELSE
        NEW.search_text :=
            to_tsvector('simple'::regconfig, left(input_text, 16384))
            || to_tsvector('simple'::regconfig, left(output_text, 16384));
    END IF;
    RETURN NEW;
END
$$;
