#!/usr/bin/env bash
# Refresh the bot's translations: extract → update → compile.
#
#   scripts/i18n.sh
#
# 1. extract every gettext message from bot/ into bot/locales/messages.pot
#    (no source locations, so moving code around does not churn the catalogs);
# 2. merge the template into bot/locales/{es,pt,ru}/LC_MESSAGES/messages.po
#    (new languages: add them to LANGS; their .po is created on the first run);
# 3. compile each .po into the messages.mo beside it (the bot loads the .mo files).
#
# Then translate whatever is new or marked "#, fuzzy" in the .po files and run it again;
# tests/bot/test_i18n.py fails while any message is untranslated, fuzzy or not compiled.
# Idempotent: a second run with unchanged sources leaves every file byte-identical.
set -euo pipefail

cd "$(dirname "$0")/.."
PYBABEL="${PYBABEL:-.venv/bin/pybabel}"
LOCALES=bot/locales
DOMAIN=messages
POT="$LOCALES/$DOMAIN.pot"
LANGS=(es pt ru)

tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT

"$PYBABEL" -q extract -F babel.cfg -k _ -k __ -k ngettext:1,2 --no-location \
    --project=WhatToWatch --copyright-holder="WhatToWatch" -o "$tmp" bot/

# Keep the old template when only its POT-Creation-Date would change.
if [[ -f "$POT" ]] && diff -q <(grep -v '^"POT-Creation-Date:' "$tmp") \
                                 <(grep -v '^"POT-Creation-Date:' "$POT") >/dev/null; then
    echo "$POT is up to date"
else
    cat "$tmp" > "$POT"  # not cp: keep normal permissions (mktemp files are 0600)
    echo "wrote $POT"
fi

for lang in "${LANGS[@]}"; do
    if [[ -f "$LOCALES/$lang/LC_MESSAGES/$DOMAIN.po" ]]; then
        "$PYBABEL" -q update --ignore-pot-creation-date -d "$LOCALES" -D "$DOMAIN" -l "$lang" -i "$POT"
    else
        "$PYBABEL" -q init -d "$LOCALES" -D "$DOMAIN" -l "$lang" -i "$POT"
    fi
done

"$PYBABEL" compile -d "$LOCALES" -D "$DOMAIN" --statistics
