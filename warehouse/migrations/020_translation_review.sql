-- 020: where each variant's captions came from, whether it may be published yet, and glossary findings.
-- A machine translation is publishable only after a person reviewed it when the campaign's review.translations is on.

ALTER TABLE captions ADD COLUMN glossary_issues VARCHAR;          -- one finding per line, NULL when none
ALTER TABLE variants ADD COLUMN caption_origin VARCHAR;           -- source | translator-file | machine-translation
ALTER TABLE variants ADD COLUMN publishable BOOLEAN DEFAULT true;
ALTER TABLE variants ADD COLUMN hold_reason VARCHAR;              -- why it is not publishable yet
ALTER TABLE variants ADD COLUMN warnings VARCHAR;                 -- platform limits a variant misses on some platforms
