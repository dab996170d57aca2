#!/usr/bin/env python3
"""No code in any log: every code the registry texted during a run, read from the recording SMS
gateway's record (Tests/support/sms_gateway.py) as the person would read her phone, looked for in
the logs written during the run; and every text itself, whole.

usage: codes_in_log.py --record SMS_RECORD --templates Web/i18n/messages LOG [LOG...]

The codes are read with the message templates themselves (`{code}` in the text of
worker_activation_code, transfer_consent_code, consent_code, contact_change_code and phone_verification_code, in every language), so a template
changed is still read; a text of those kinds that no template matches fails the check (a code it
cannot read is a code it cannot look for). A code is found when it stands in a log line as a word of
its own (a whole run of letters and digits, not part of a longer one). Exits 1 naming the kind, the message's
request id and the log line's number, never the code or the text; 0 when nothing was found.
Standard library only; also imported by the fault suite (`findings`).
"""
import argparse
import json
import os
import re
import sys

CODE_KINDS = ("worker_activation_code", "transfer_consent_code", "consent_code", "contact_change_code",
              "phone_verification_code")


def templates(directory):
    """kind -> [compiled pattern of its text, one per language], for the kinds that carry a code."""
    patterns = {}
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".yaml"):
            continue
        with open(os.path.join(directory, name), encoding="utf-8") as f:
            for line in f:
                match = re.match(r'^([a-z_]+):\s*"(.*)"\s*$', line.rstrip("\n"))
                if not match or match.group(1) not in CODE_KINDS:
                    continue
                text = json.loads('"' + match.group(2) + '"')
                pattern, at = "", 0
                for placeholder in re.finditer(r"\{([a-z_]+)\}", text):
                    pattern += re.escape(text[at:placeholder.start()])
                    pattern += r"(?P<code>[0-9A-Za-z]+)" if placeholder.group(1) == "code" else r".*?"
                    at = placeholder.end()
                pattern += re.escape(text[at:])
                if "(?P<code>" in pattern:
                    patterns.setdefault(match.group(1), []).append(re.compile("^" + pattern + "$", re.S))
    return patterns


def issued(record, directory):
    """(codes, texts, unreadable): codes as (kind, request id, code); every text as (kind, request id,
    text); the texts of code kinds no template matched, as (kind, request id)."""
    patterns = templates(directory)
    codes, texts, unreadable = [], [], []
    if not os.path.exists(record):
        return codes, texts, unreadable
    with open(record, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            message = json.loads(line)
            kind, request_id, text = message.get("kind"), message.get("id"), message.get("text") or ""
            texts.append((kind, request_id, text))
            if kind in CODE_KINDS:
                match = next((m for p in patterns.get(kind, []) for m in [p.match(text)] if m), None)
                if match:
                    codes.append((kind, request_id, match.group("code")))
                else:
                    unreadable.append((kind, request_id))
    return codes, texts, unreadable


def findings(record, directory, logs):
    """What the check reports: a list of sentences naming no code and no text (empty: all clear)."""
    codes, texts, unreadable = issued(record, directory)
    problems = [f"a {kind} text (request id {rid}) matches no template in {directory}: its code cannot be read"
                for kind, rid in unreadable]
    by_code = {}
    for kind, rid, code in codes:
        by_code.setdefault(code, []).append((kind, rid))
    by_text = {}
    for kind, rid, text in texts:
        # the text as written, and as a JSON encoder with ASCII escapes would write it
        for form in {text, json.dumps(text)[1:-1]}:
            if form:
                by_text.setdefault(form, []).append((kind, rid))
    openings = {form[:6] for form in by_text}
    for log in logs:
        if not os.path.exists(log):
            continue
        with open(log, encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, 1):
                found = set()
                for token in re.findall(r"[0-9A-Za-z]+", line):
                    for kind, rid in by_code.get(token, ()):
                        found.add(("code", kind, rid))
                if any(opening in line for opening in openings):
                    for form, senders in by_text.items():
                        if form in line:
                            found.update(("text", kind, rid) for kind, rid in senders)
                problems += [f"{log}:{number}: the {what} of a {kind} message (request id {rid}) is in the log"
                             for what, kind, rid in sorted(found)]
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--record", required=True)
    parser.add_argument("--templates", required=True)
    parser.add_argument("logs", nargs="+")
    args = parser.parse_args()
    codes, texts, _ = issued(args.record, args.templates)
    problems = findings(args.record, args.templates, args.logs)
    if problems:
        print(f"no code in any log: FAILED ({len(problems)} finding(s); codes and texts are not printed)", file=sys.stderr)
        for problem in problems[:20]:
            print("  " + problem, file=sys.stderr)
        return 1
    kinds = sorted({kind for kind, _, _ in codes})
    print(f"no code in any log: {len(codes)} codes ({', '.join(kinds) or 'none issued'}) and {len(texts)} texts "
          f"looked for in {len(args.logs)} log(s), none found")
    return 0


if __name__ == "__main__":
    sys.exit(main())
