"""Deterministic, realistic-looking mention texts for benchmarks.

Mixed languages (en, fr, es, de, pt, it, ja), a brand's products, order and
tracking numbers, hashtags, @handles, links, emoji, and per-author habits:
typos (swapped, dropped, doubled or wrong letters), no accents, lowercase.
Everything is a pure function of the `random.Random` passed in.
"""

from __future__ import annotations

import random
import string

BRAND = "lumio"
PRODUCTS = ("Lumio X2", "Lumio Air", "Lumio Buds", "Lumio Pulse watch", "Lumio Dock", "Lumio Mini",
            "Lumio Pro Max", "the X2 charger", "Lumio Home hub", "Lumio Pen", "Lumio Tab 11", "Lumio Go")
EMOJI = ("😍", "😡", "🙏", "👍", "👎", "😭", "🔥", "💔", "✨", "🤬", "😂", "📦", "🚚", "💸", "⏳", "❤️",
         "🤦‍♀️", "🇫🇷", "🇪🇸", "🇩🇪", "👀", "💯", "🙄", "😤", "🥳", "😅")
INSTANCES = ("mastodon.social", "fosstodon.org", "mstdn.jp", "piaille.fr", "social.coop", "hachyderm.io",
             "mas.to", "chaos.social", "mastodon.world", "techhub.social")
NETWORKS = (("mastodon", 0.38), ("bluesky", 0.40), ("demo", 0.14), ("webhook:instagram", 0.08))
LANGS = (("en", 0.55), ("fr", 0.15), ("es", 0.10), ("de", 0.08), ("pt", 0.05), ("it", 0.04), ("ja", 0.03))

_FIRST = ("mara", "tara", "sam", "ben", "priya", "kev", "jordan", "alex", "nina", "omar", "zoe", "liam", "ava",
          "noah", "maya", "ethan", "ruby", "isaac", "hana", "dev", "grace", "leo", "ivy", "max", "sofia", "kai",
          "ella", "finn", "aisha", "owen", "chloe", "jack", "emma", "ryan", "lucy", "tom", "mia", "dan", "jess",
          "marcus", "julien", "camille", "lea", "hugo", "manon", "theo", "ines", "lucas", "sarah", "mathis",
          "elodie", "yanis", "margaux", "axel", "clara", "romain", "pauline", "lucia", "mateo", "carmen",
          "diego", "valentina", "pablo", "lena", "jonas", "felix", "hannah", "lukas", "anna", "joao",
          "beatriz", "rafael", "giulia", "marco", "chiara", "yuki", "haruto", "sakura", "ren", "aoi", "sota")
_LAST = ("roux", "kent", "patel", "nguyen", "morel", "silva", "brooks", "dubois", "okafor", "haddad", "lambert",
         "chen", "fournier", "garcia", "walsh", "moreau", "singh", "bernard", "lopez", "price", "girard",
         "kowalski", "martin", "park", "leroy", "adams", "faure", "novak", "blanc", "reyes", "muller", "schmidt",
         "fischer", "weber", "rossi", "russo", "ferrari", "santos", "oliveira", "pereira", "tanaka", "suzuki",
         "sato", "kato", "fernandez", "gonzalez", "martinez", "sanchez", "perez", "romero")

# Per language: openings, the body for each topic, closings. {p} product,
# {o} order number, {d} days, {t} tracking code, {b} @brand, {h} hashtag.
PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "open": ("Hey {b}", "{b}", "Hi {b} team,", "Seriously {b}?", "Ok {b},", "Dear {b},", "Yo {b}", "",
                 "Quick question {b}:", "Not happy {b}.", "Shoutout to {b}!"),
        "refund": ("I returned my {p} {d} days ago and still no refund for order {o}.",
                   "still waiting on my refund, order {o}, it's been {d} days",
                   "how long does a refund take? returned the {p} last week",
                   "you charged me twice for order {o} and I want a refund please",
                   "refund request ignored again, order {o}. this is getting ridiculous"),
        "delivery": ("my delivery was late again, order {o} said {d} days and it's been two weeks",
                     "package stuck in transit, tracking {t} hasn't moved since monday",
                     "the courier left my {p} outside in the rain 😡",
                     "delivery date keeps changing for order {o}, any update?",
                     "ordered the {p} with express shipping and it arrived late and damaged"),
        "battery": ("the battery on my {p} drains in a few hours since the last update",
                    "{p} battery life is terrible now, was fine before the update",
                    "my {p} gets really hot while charging, is that normal?",
                    "charging stopped working on the {p} after {d} days"),
        "login": ("can't log in to the app, it keeps saying my password is wrong",
                  "locked out of my account after the update, reset email never arrives",
                  "two factor code never shows up, I'm stuck on the login screen"),
        "billing": ("why was I billed for a subscription I cancelled?",
                    "invoice for order {o} shows the wrong address",
                    "your promo code didn't apply at checkout and support won't answer"),
        "praise": ("just got the {p} and honestly it's amazing, the screen is gorgeous",
                   "shoutout to your support team, fixed my {p} in ten minutes",
                   "the new {p} update is great, battery lasts so much longer",
                   "loving my {p} so far, best purchase this year"),
        "marketing": ("is the {p} coming back in stock before the holidays?",
                      "will there be a student discount on the {p}?",
                      "saw the {p} ad and I'm tempted, is it worth it over the old one?",
                      "any chance of a giveaway for the launch of the {p}?"),
        "close": ("Thanks.", "Please help.", "Any update?", "Not impressed.", "DM me.", "Love you guys!",
                  "Fix this please.", "Cheers.", "", "", "Worst customer service ever.", "🙏"),
    },
    "fr": {
        "open": ("Bonjour {b},", "{b}", "Salut {b}", "Allô {b} ?", "Coucou {b}", "", "Sérieusement {b},"),
        "refund": ("j'attends toujours mon remboursement pour la commande {o}, ça fait {d} jours",
                   "remboursement refusé alors que j'ai renvoyé le {p} il y a {d} jours",
                   "vous m'avez débité deux fois pour la commande {o}, je veux être remboursé",
                   "toujours aucune nouvelle de mon remboursement, c'est inadmissible"),
        "delivery": ("ma livraison est encore en retard, commande {o} annoncée en {d} jours",
                     "colis bloqué depuis lundi, numéro de suivi {t}",
                     "le livreur a laissé mon {p} devant la porte sous la pluie",
                     "la date de livraison change tous les jours, c'est pénible"),
        "battery": ("la batterie de mon {p} se vide en quelques heures depuis la mise à jour",
                    "mon {p} chauffe beaucoup pendant la charge, c'est normal ?",
                    "la charge ne fonctionne plus sur le {p} après {d} jours"),
        "login": ("impossible de me connecter à l'application, mot de passe refusé",
                  "compte bloqué après la mise à jour, je ne reçois pas le mail"),
        "billing": ("pourquoi ai-je été facturé pour un abonnement résilié ?",
                    "la facture de la commande {o} a la mauvaise adresse"),
        "praise": ("je viens de recevoir le {p}, franchement il est génial",
                   "merci au service client, problème réglé en dix minutes",
                   "la nouvelle mise à jour du {p} est top, la batterie tient bien plus longtemps"),
        "marketing": ("le {p} sera-t-il de nouveau disponible avant Noël ?",
                      "une réduction étudiante prévue pour le {p} ?"),
        "close": ("Merci.", "Merci d'avance.", "Aidez-moi svp.", "Déçu.", "", "Vraiment nul.", "Bravo !"),
    },
    "es": {
        "open": ("Hola {b},", "{b}", "Oye {b}", "", "Buenas {b},"),
        "refund": ("sigo esperando el reembolso del pedido {o}, ya van {d} días",
                   "devolví el {p} hace {d} días y nada de reembolso",
                   "me cobraron dos veces el pedido {o}, quiero mi dinero"),
        "delivery": ("mi pedido {o} llega tarde otra vez, el envío dice {d} días",
                     "el paquete está atascado, seguimiento {t}",
                     "el repartidor dejó mi {p} en la calle"),
        "battery": ("la batería de mi {p} dura muy poco desde la actualización",
                    "mi {p} se calienta mucho al cargar"),
        "login": ("no puedo iniciar sesión en la aplicación, dice contraseña incorrecta",),
        "billing": ("me facturaron una suscripción que cancelé",),
        "praise": ("me encanta mi {p}, la pantalla es preciosa", "gracias al soporte, resolvieron todo rápido"),
        "marketing": ("¿habrá descuento para estudiantes en el {p}?", "¿cuándo vuelve el {p} a estar disponible?"),
        "close": ("Gracias.", "Ayuda por favor.", "", "Qué vergüenza.", "¡Genial!"),
    },
    "de": {
        "open": ("Hallo {b},", "{b}", "Hey {b}", "", "Liebes {b} Team,"),
        "refund": ("ich warte immer noch auf meine Rückerstattung für Bestellung {o}, schon {d} Tage",
                   "habe das {p} vor {d} Tagen zurückgeschickt und keine Erstattung bekommen"),
        "delivery": ("meine Lieferung ist schon wieder verspätet, Bestellung {o}",
                     "Paket hängt seit Montag fest, Sendungsnummer {t}",
                     "der Kurier hat mein {p} einfach vor die Tür gelegt"),
        "battery": ("der Akku meines {p} ist nach dem Update in wenigen Stunden leer",
                    "mein {p} wird beim Laden sehr heiß"),
        "login": ("ich kann mich nicht mehr in der App anmelden, Passwort wird abgelehnt",),
        "billing": ("warum wurde mir ein gekündigtes Abo berechnet?",),
        "praise": ("das neue {p} ist großartig, der Bildschirm ist wunderschön",
                   "danke an den Support, Problem in zehn Minuten gelöst"),
        "marketing": ("gibt es einen Studentenrabatt für das {p}?", "wann ist das {p} wieder lieferbar?"),
        "close": ("Danke.", "Bitte helfen.", "", "Unglaublich.", "Super!"),
    },
    "pt": {
        "open": ("Olá {b},", "{b}", "Oi {b}", ""),
        "refund": ("ainda estou esperando o reembolso do pedido {o}, já são {d} dias",),
        "delivery": ("minha entrega atrasou de novo, pedido {o}", "pacote parado, rastreio {t}"),
        "battery": ("a bateria do meu {p} acaba em poucas horas depois da atualização",),
        "login": ("não consigo entrar no aplicativo, senha recusada",),
        "billing": ("fui cobrado por uma assinatura cancelada",),
        "praise": ("adorei meu {p}, a tela é linda",),
        "marketing": ("vai ter desconto para estudantes no {p}?",),
        "close": ("Obrigado.", "Socorro.", "", "Que absurdo."),
    },
    "it": {
        "open": ("Ciao {b},", "{b}", "Salve {b},", ""),
        "refund": ("sto ancora aspettando il rimborso dell'ordine {o}, sono passati {d} giorni",),
        "delivery": ("la mia consegna è di nuovo in ritardo, ordine {o}", "pacco bloccato, tracking {t}"),
        "battery": ("la batteria del mio {p} si scarica in poche ore dopo l'aggiornamento",),
        "login": ("non riesco ad accedere all'app, password rifiutata",),
        "billing": ("mi avete addebitato un abbonamento disdetto",),
        "praise": ("adoro il mio {p}, lo schermo è bellissimo",),
        "marketing": ("ci sarà uno sconto studenti sul {p}?",),
        "close": ("Grazie.", "Aiuto.", "", "Vergognoso."),
    },
    "ja": {
        "open": ("{b} さん", "{b}", ""),
        "refund": ("注文{o}の返金がまだです。もう{d}日待っています", "{p}を返品したのに返金されません"),
        "delivery": ("配送が遅れています。注文{o}はいつ届きますか", "荷物が止まったままです 追跡番号{t}"),
        "battery": ("アップデート後{p}のバッテリーがすぐ切れます", "{p}が充電中にとても熱くなります"),
        "login": ("アプリにログインできません。パスワードが違うと言われます",),
        "billing": ("解約したサブスクの料金が請求されました",),
        "praise": ("{p}最高です！画面がとてもきれい", "サポートの対応が早くて助かりました"),
        "marketing": ("{p}の学割はありますか？", "{p}の再入荷はいつですか？"),
        "close": ("よろしくお願いします。", "困っています。", "", "ありがとう！"),
    },
}
TOPICS = (("refund", 0.2), ("delivery", 0.22), ("battery", 0.12), ("login", 0.08), ("billing", 0.08),
          ("praise", 0.17), ("marketing", 0.13))
HASHTAGS = ("#fail", "#customerservice", "#lumio", "#tech", "#help", "#delivery", "#refund", "#unboxing",
            "#newphone", "#SAV", "#livraison", "#remboursement", "#garantía", "#Kundenservice")
# The long tail every real history has: place, shop and people names, slang,
# brand-new words. Pronounceable made-up words, drawn with a Zipf law from a
# pool that grows with the history, so the vocabulary grows like a real one.
_ONSETS = ("b", "br", "c", "ch", "d", "dr", "f", "g", "gr", "h", "j", "k", "l", "m", "n", "p", "pr", "qu", "r",
           "s", "sh", "st", "t", "tr", "v", "w", "z", "")
_VOWELS = ("a", "e", "i", "o", "u", "ou", "ai", "ea", "io", "y")
_CODAS = ("", "", "n", "r", "l", "s", "t", "x", "nd", "rk", "ll", "m")
TAIL_TEMPLATES = {
    "en": ("bought it at {w} in {W}", "my friend {W} has the same issue", "shipping to {W} is a joke",
           "the {w} store said to ask you", "{w} {w} lol", "from {W} with love"),
    "fr": ("acheté chez {W} à {W}", "mon ami {W} a le même souci", "livré à {W}", "{w} franchement"),
    "es": ("comprado en {W}, {W}", "mi amigo {W} tiene el mismo problema", "envío a {W}"),
    "de": ("gekauft bei {W} in {W}", "mein Freund {W} hat das gleiche Problem", "Versand nach {W}"),
    "pt": ("comprei na {W} em {W}", "envio para {W}"),
    "it": ("comprato da {W} a {W}", "spedizione a {W}"),
    "ja": ("{W}で買いました",),
}


def tail_word(rng: random.Random, pool: int) -> str:
    """A made-up word; word number n comes back with probability ~1/n."""
    rank = int(pool ** rng.random())  # log-uniform rank: a Zipf-like law
    local = random.Random(rank * 7919 + 17)
    return "".join(local.choice(_ONSETS) + local.choice(_VOWELS) + local.choice(_CODAS)
                   for _ in range(local.choice((2, 2, 3, 3, 4))))


_NO_ACCENTS = str.maketrans("éèêàâùûîïôçáíóúñãõüöäß", "eeeaauuiiocaiounaouoas")


def _weighted(rng: random.Random, table: tuple[tuple[str, float], ...]) -> str:
    roll, total = rng.random(), 0.0
    for value, weight in table:
        total += weight
        if roll < total:
            return value
    return table[-1][0]


def mistype(word: str, rng: random.Random) -> str:
    """One realistic typo: swap, drop, double or hit a neighbouring key."""
    if len(word) < 4 or not word.isalpha():
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.random()
    if kind < 0.3:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind < 0.55:
        return word[:i] + word[i + 1:]
    if kind < 0.75:
        return word[:i] + word[i] + word[i:]
    return word[:i] + rng.choice(string.ascii_lowercase) + word[i + 1:]


class Author:
    __slots__ = ("handle", "name", "network", "lang", "typos", "emoji", "lowercase", "accents")

    def __init__(self, rng: random.Random, index: int):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        self.network = _weighted(rng, NETWORKS)
        base = rng.choice((f"{first}_{last}", f"{first}{last[0]}", f"{first}.{last}", f"{first}{index}",
                           f"{last}{first[0]}{index % 100}"))
        base = base.replace(".", "_") if self.network != "bluesky" else base
        if self.network == "mastodon":
            self.handle = f"@{base}@{rng.choice(INSTANCES)}"
        elif self.network == "bluesky":
            self.handle = f"@{base}.bsky.social"
        elif self.network == "demo":
            self.handle = f"@{base}{index}"
        else:
            self.handle = f"{base}{index}"
        self.name = f"{first.capitalize()} {last.capitalize()}"
        self.lang = _weighted(rng, LANGS)
        self.typos = rng.choice((0.0, 0.0, 0.01, 0.03, 0.06, 0.12))
        self.emoji = rng.choice((0.05, 0.2, 0.5, 0.8))
        self.lowercase = rng.random() < 0.3
        self.accents = rng.random() < 0.75


def cast(size: int, seed: int = 7) -> list[Author]:
    rng = random.Random(seed)
    return [Author(rng, index) for index in range(size)]


def _fill(template: str, rng: random.Random) -> str:
    if "{" not in template:
        return template
    return template.format(
        b=f"@{BRAND}", p=rng.choice(PRODUCTS), o=f"#{rng.randrange(100000, 999999)}",
        d=rng.choice((3, 5, 7, 10, 12, 14, 21, 30)), t=f"LM{rng.randrange(10**9, 10**10)}FR",
        h=rng.choice(HASHTAGS),
    )


def text_for(author: Author, rng: random.Random, friend: str = "", pool: int = 100_000) -> tuple[str, str]:
    """(text, topic) of one mention by `author`, maybe cc-ing `friend`; long-tail words from `pool`."""
    bank = PHRASES[author.lang]
    topic = _weighted(rng, TOPICS)
    first = rng.choice(bank[topic])
    parts = [_fill(rng.choice(bank["open"]), rng), _fill(first, rng)]
    used = {first}
    for chance in (0.9, 0.3):
        if rng.random() < chance:
            other = rng.choice(bank[_weighted(rng, TOPICS) if rng.random() < 0.3 else topic])
            if other in used:
                other = rng.choice(bank[_weighted(rng, TOPICS)])
            if other not in used:
                used.add(other)
                parts.append(_fill(other, rng))
    parts.append(_fill(rng.choice(bank["close"]), rng))
    if rng.random() < 0.25:
        parts.append(" ".join(rng.sample(HASHTAGS, rng.randint(1, 2))))
    if rng.random() < 0.35:
        template = rng.choice(TAIL_TEMPLATES[author.lang])
        words = iter([tail_word(rng, pool) for _ in range(template.count("{"))])
        parts.insert(-1, template.replace("{w}", "{}").replace("{W}", "{}").format(
            *(next(words).capitalize() if key == "W" else next(words)
              for key in (part[0] for part in template.split("{")[1:]))))
    if friend and rng.random() < 0.15:
        parts.append(f"cc @{friend}")
    if rng.random() < 0.06:
        parts.append(f"https://example.com/p/{rng.randrange(16**8):08x}")
    text = " ".join(part for part in parts if part)
    if author.typos:
        tokens = text.split(" ")
        text = " ".join(mistype(w, rng) if rng.random() < author.typos else w for w in tokens)
    if not author.accents:
        text = text.translate(_NO_ACCENTS)
    if author.lowercase:
        text = text.lower()
    if rng.random() < author.emoji:
        text += " " + "".join(rng.choice(EMOJI) for _ in range(rng.randint(1, 3)))
    return text[:480], topic
