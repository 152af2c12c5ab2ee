"""The two HTML pages: sign-in, and the console (textual-serve's terminal script on a page of ours).

Ours rather than textual-serve's template: no inline script and no font from
another site, so a strict Content-Security-Policy holds, and a sign-out form.
Every value put in a page goes through html.escape.
"""

from __future__ import annotations

from html import escape

STYLE = """
/* #terminal beats textual.js's own `.textual-terminal { height: 100vh }`, which would push the footer
   below the window under our bar. */
body { background: #0c181f; color: #e8eef2; font-family: "Roboto Mono", monospace; margin: 0; }
@font-face { font-family: "Roboto Mono"; src: url("/static/fonts/RobotoMono-VariableFont_wght.ttf"); }
main.signin { max-width: 24rem; margin: 12vh auto; padding: 2rem; background: #12232d; }
main.signin h1 { font-size: 1.2rem; margin-top: 0; }
label { display: block; margin-top: 1rem; }
input { width: 100%; box-sizing: border-box; padding: .5rem; font: inherit; margin-top: .25rem; }
button { margin-top: 1.25rem; padding: .5rem 1.5rem; font: inherit; background: #5e0ba7; color: #fff; border: 0; }
p.problem { color: #ffb4a8; }
header.bar { display: flex; justify-content: space-between; align-items: center; height: 28px;
  padding: 0 .75rem; font-size: 13px; background: #12232d; }
header.bar form { margin: 0; } header.bar button { margin: 0; padding: 2px 10px; font-size: 12px; }
#terminal { position: absolute; top: 28px; left: 0; right: 0; bottom: 0; width: auto; height: auto; }
.closed-note { display: none; position: absolute; top: 40%; left: 50%; transform: translateX(-50%); z-index: 5;
  padding: 1rem 2rem; background: #12232d; } a { color: #8fd3ff; }
body.-closed .closed-note { display: block; }
body.-closed #terminal { opacity: .3; }
"""


def _page(title: str, body: str, body_class: str = "") -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="stylesheet" href="/static/css/xterm.css"><style>{STYLE}</style></head>'
            f'<body class="{body_class}">{body}</body></html>')


def signin_page(form_token: str, problem: str = "", name: str = "") -> str:
    shown = f'<p class="problem" role="alert">{escape(problem)}</p>' if problem else ""
    return _page("mentiondesk: sign in", f"""<main class="signin"><h1>mentiondesk</h1>{shown}
<form method="post" action="/signin">
<input type="hidden" name="form_token" value="{escape(form_token)}">
<label>Operator <input name="operator" autocomplete="username" required value="{escape(name)}" autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form></main>""")


def console_page(operator: str, websocket_url: str, signout_token: str, font_size: int = 16) -> str:
    return _page(f"mentiondesk: {operator}", f"""<header class="bar"><span>mentiondesk · {escape(operator)}</span>
<form method="post" action="/signout"><input type="hidden" name="form_token" value="{escape(signout_token)}">
<button type="submit">Sign out</button></form></header>
<p class="closed-note">The console has ended. <a href="/">Open it again</a></p>
<div id="terminal" class="textual-terminal" data-session-websocket-url="{escape(websocket_url)}"
 data-font-size="{font_size}"></div>
<script src="/static/js/textual.js"></script>""")


def content_security_policy(websocket_origin: str) -> str:
    # 'unsafe-inline' styles only: xterm.js sets style attributes; no script runs but textual.js.
    return ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; font-src 'self'; "
            f"img-src 'self' data:; connect-src 'self' {websocket_origin}; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'")
