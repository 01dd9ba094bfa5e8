"""``redline export ENGAGEMENT --out FILE.zip [--window NAME]...``: write the evidence bundle.

Parsing only; the bundle is built by :func:`app.evidence.bundle.build_bundle`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.text import for_terminal


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export", help="write an engagement's evidence bundle (zip)",
        description="Write the evidence bundle a CPA firm can read, file and verify: report (Markdown and "
                    "HTML), workpapers (CSV and XLSX), data as JSON, transcripts, the audit trail, OSCAL "
                    "documents and a manifest of SHA-256 hashes. Check it later with `redline verify`.",
    )
    parser.add_argument("engagement", metavar="ENGAGEMENT", help="the engagement's name in the store")
    parser.add_argument("--out", required=True, type=Path, metavar="FILE.zip", help="where to write the bundle")
    parser.add_argument("--window", dest="windows", action="append", default=[], metavar="NAME",
                        help="only runs from this test window (repeatable); default: every run")
    signing = parser.add_mutually_exclusive_group()
    signing.add_argument("--sign", dest="sign", action="store_const", const=True, default=None,
                         help="sign the manifest, creating your signing key first if you have none "
                              "(default: sign when you have a key)")
    signing.add_argument("--no-sign", dest="sign", action="store_const", const=False,
                         help="do not sign the manifest")
    parser.add_argument("--redact", action="append", default=[], choices=["pii"],
                        help="replace personal data (email, phone, card, SSN) with typed placeholders in every "
                             "exported file; the store keeps the originals")
    parser.add_argument("--keep-secrets-in-output", action="store_true",
                        help="keep secret-looking model output (API keys, tokens, private keys the model printed) "
                             "in the bundle, as evidence; by default each is replaced by a typed placeholder such "
                             "as [REDACTED AWS KEY], and the report and manifest say which was done")
    parser.add_argument("--allow-broken", action="store_true",
                        help="write the bundle even if the audit chain or the evidence it covers no longer "
                             "verifies; the manifest and the report then mark it broken")
    parser.add_argument("--pdf", action="store_true",
                        help="also write report.pdf, the HTML report printed (needs: pip install 'redline[pdf]')")
    parser.add_argument("--docx", action="store_true",
                        help="also write report.docx from the Word template (needs: pip install 'redline[docx]')")
    parser.add_argument("--template", type=Path, metavar="FIRM.docx",
                        help="the firm's own Word template with docxtpl (Jinja) tags; implies --docx")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from app.evidence.bundle import ExportProgress, build_bundle
    from app.evidence.collect import find_engagement_id
    from app.store import session

    interactive = sys.stderr.isatty()

    def progress(step: ExportProgress) -> None:
        if interactive:
            sys.stderr.write(f"\r\x1b[2Kwriting {step.done}/{step.total}: {step.path}")
            sys.stderr.flush()

    with session() as db:
        result = build_bundle(db, find_engagement_id(db, args.engagement), args.out,
                              windows=args.windows or None, on_progress=progress, allow_broken=args.allow_broken,
                              sign=args.sign, redact=args.redact,
                              keep_secrets_in_output=args.keep_secrets_in_output,
                              pdf_report=args.pdf, docx_report=args.docx, docx_template=args.template)
    if interactive:
        sys.stderr.write("\r\x1b[2K")
    # The count is what the manifest lists, as `redline verify` counts it; the manifest (and signature) come on top.
    beside = "manifest.json and its signature" if result.key_fingerprint else "manifest.json"
    print(for_terminal(f"wrote {result.path} ({result.files} files plus {beside}, {result.size:,} bytes): "
                       f"{result.runs} runs, {result.turns} turns, {result.findings} findings"))
    if result.pdf_pages is not None:
        print(f"report.pdf: {result.pdf_pages} pages")
    if result.flagged_runs:
        print(f"note: {result.flagged_runs} run(s) break a Type I/II dating rule; see the report's dating flags")
    for omitted in result.omitted:
        print(for_terminal(f"note: left out {omitted}"))
    for note in result.notes:
        print(f"note: {for_terminal(note)}")
    if args.redact:
        print(f"redacted ({', '.join(sorted(set(args.redact)))}): {result.redacted_turns} turn(s) changed in the "
              "bundle; the store keeps the originals")
    if result.secrets_in_output.get("found"):
        from app.evidence.wording import secrets_in_output

        print(f"secrets in model output: {secrets_in_output(result.secrets_in_output)}")
    if result.key_notice:
        print(f"created your signing key {result.key_fingerprint}: {for_terminal(result.key_notice)}")
    # Both go to the auditor by another channel (mail, a ticket), so the bundle cannot vouch for itself.
    print(f"manifest.json SHA-256: {result.manifest_sha256}")
    if result.key_fingerprint:
        print(f"signed with key {result.key_fingerprint} (manifest.json.sig); hand the auditor your public key: "
              "`redline keys export-public FILE`")
    else:
        print("not signed (`redline export --sign` creates a signing key and signs)")
    if not result.chain_ok:
        print("warning: the audit chain, or the evidence it covers, is broken; the bundle is marked broken and "
              "`redline verify` will fail it:",
              file=sys.stderr)
        for problem in result.chain_problems:
            print(f"  - {for_terminal(problem)}", file=sys.stderr)
    return 0
