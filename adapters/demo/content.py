"""What the demo network's people say: a cast, templates and the slots that vary them.

Texts are built from templates × slots × per-author habits (typos, emoji,
lowercase), so a long stream rarely repeats itself. Everything here is a
pure function of the `random.Random` it is given; the adapter decides which
generator, so the same seed always yields the same words.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

# --- the cast ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Author:
    handle: str  # "@mara_k"
    name: str
    lang: str  # the language they write in: "en" or "fr"
    typos: float  # chance that a given word gets mistyped
    emoji: float  # chance to end a post with emoji
    lowercase: bool  # never reaches for the shift key


_EN_FIRST = (
    "mara", "tara", "sam", "ben", "priya", "kev", "jordan", "alex", "nina", "omar", "zoe", "liam",
    "ava", "noah", "maya", "ethan", "ruby", "isaac", "hana", "dev", "grace", "leo", "ivy", "max",
    "sofia", "kai", "ella", "finn", "aisha", "owen", "chloe", "jack", "emma", "ryan", "lucy", "tom",
    "mia", "dan", "jess", "marcus", "tyler", "becca", "jamal", "kim", "rosa", "nate",
)
_FR_FIRST = (
    "julien", "camille", "lea", "hugo", "manon", "theo", "ines", "lucas", "chloe", "nico", "sarah",
    "mathis", "elodie", "yanis", "margaux", "axel", "clara", "romain", "pauline", "bastien",
    "oceane", "quentin", "amandine", "karim", "lou", "maxime", "anais", "florian", "justine",
)
_LAST = (
    "roux", "kent", "patel", "nguyen", "morel", "silva", "brooks", "dubois", "okafor", "haddad",
    "lambert", "chen", "fournier", "garcia", "walsh", "moreau", "singh", "bernard", "lopez", "price",
    "girard", "kowalski", "martin", "park", "leroy", "adams", "faure", "novak", "blanc", "reyes",
)
_HOBBIES = ("runs", "beats", "codes", "travels", "games", "reads", "lifts", "bakes", "films", "cycles")
_NAME_DECOR = ("", "", "", "", " 🎧", " ✨", " 🏃‍♀️", " (she/her)", " (he/him)", " 🌿", " ☕", " [away]",
               " 🇫🇷", " | tech", " 👩‍💻", " 🎮")
# Names people pick with accents or a nickname, keyed by the ASCII handle part.
_PRETTY = {"lea": "Léa", "theo": "Théo", "ines": "Inès", "elodie": "Élodie", "oceane": "Océane",
           "anais": "Anaïs", "chloe": "Chloé", "kev": "Kevin", "dev": "Dev", "nico": "Nico"}


def _display(first: str, last: str, rng: random.Random) -> str:
    pretty = _PRETTY.get(first, first.capitalize())
    style = rng.random()
    if style < 0.4:
        name = f"{pretty} {last.capitalize()}"
    elif style < 0.7:
        name = f"{pretty} {last[0].upper()}."
    elif style < 0.85:
        name = pretty.lower()
    else:
        name = pretty
    return name + rng.choice(_NAME_DECOR)


def _handle(first: str, last: str, rng: random.Random) -> str:
    shape = rng.randrange(6)
    if shape == 0:
        return f"@{first}_{last[0]}"
    if shape == 1:
        return f"@{first}.{last}"
    if shape == 2:
        return f"@{first}{rng.randint(1, 99):02d}"
    if shape == 3:
        return f"@{first}_{rng.choice(_HOBBIES)}"
    if shape == 4:
        return f"@{first}{last}"
    return f"@{last}_{first}"


def _voice(rng: random.Random, handle: str, name: str, lang: str) -> Author:
    return Author(
        handle=handle,
        name=name,
        lang=lang,
        typos=rng.choice((0.0, 0.0, 0.0, 0.01, 0.03, 0.06, 0.1)),
        emoji=rng.choice((0.05, 0.2, 0.4, 0.7)),
        lowercase=rng.random() < 0.3,
    )


def _build_cast(size: int = 200) -> tuple[Author, ...]:
    """The regulars, most active first; every fourth one writes in French."""
    rng = random.Random(20250301)  # the cast is the same for every seed: regulars stay recognisable
    cast: list[Author] = []
    taken: set[str] = set()
    while len(cast) < size:
        lang = "fr" if len(cast) % 4 == 1 else "en"
        first = rng.choice(_FR_FIRST if lang == "fr" else _EN_FIRST)
        last = rng.choice(_LAST)
        handle = _handle(first, last, rng)
        if handle in taken:
            continue
        taken.add(handle)
        cast.append(_voice(rng, handle, _display(first, last, rng), lang))
    return tuple(cast)


CAST = _build_cast()
# Zipf-like activity: the first regulars post far more often than the tail.
CAST_WEIGHTS = tuple(1.0 / (rank + 1) ** 0.75 for rank in range(len(CAST)))
_CUM_WEIGHTS = tuple(itertools.accumulate(CAST_WEIGHTS))
CAST_BY_HANDLE = {author.handle: author for author in CAST}


def regular(rng: random.Random, lang: str | None = None) -> Author:
    """A regular, weighted by activity; prefers one who writes in `lang` when given."""
    for _ in range(6):
        author = rng.choices(CAST, cum_weights=_CUM_WEIGHTS)[0]
        if lang is None or author.lang == lang:
            return author
    return author


def newcomer(rng: random.Random, lang: str | None = None) -> Author:
    """Someone posting for the first time (or the first time in a long while)."""
    lang = lang or ("fr" if rng.random() < 0.25 else "en")
    first = rng.choice(_FR_FIRST if lang == "fr" else _EN_FIRST)
    last = rng.choice(_LAST)
    suffix = rng.choice((f"{rng.randint(100, 9999)}", f"_{rng.randint(80, 99)}", f"{rng.randint(1, 9)}x",
                         f"_{rng.choice(_HOBBIES)}{rng.randint(1, 99)}"))
    handle = f"@{first}{suffix}" if rng.random() < 0.5 else f"@{first}_{last}{suffix}"
    return _voice(rng, handle, _display(first, last, rng), lang)


# --- slots ------------------------------------------------------------------

Slot = tuple[str, ...] | Callable[[random.Random], str]


def _order(rng: random.Random) -> str:
    return rng.choice(("#", "", "BL-", "n°")) + str(rng.randint(104000, 489999))


def _price(rng: random.Random) -> str:
    return rng.choice(("$129", "$129.99", "€149", "£119", "$249", "€279", "$59", "€19.99"))


def _version(rng: random.Random) -> str:
    return rng.choice(("2.1", "2.1.1", "2.0.4", "v2.1", "1.9.8", "3.0"))


def _photo(rng: random.Random) -> str:
    code = "".join(rng.choice("abcdefghjkmnpqrstuvwxyz23456789") for _ in range(6))
    return rng.choice((f"https://pics.demo.social/p/{code}", f"https://pics.demo.social/{code}.jpg"))


def _tracking(rng: random.Random) -> str:
    return f"https://track.parcelco.example/{rng.randint(10**9, 10**10 - 1)}"


COMMON: dict[str, Slot] = {
    "order": _order,
    "price": _price,
    "version": _version,
    "n": lambda rng: str(rng.randint(3, 19)),
    "photo": _photo,
    "tracking": _tracking,
    "phone": ("Pixel 8", "iPhone 15", "iPhone 12", "Galaxy S23", "OnePlus 11", "Fairphone 5", "Xperia"),
    "feeling": ("😤", "🙃", "😡", "🤦‍♀️", "🤦", "😩", "💀", "😭", "🫠", "🤬", "😒", "👎🏻"),
    "happy": ("😍", "🔥", "🙌", "🎧", "✨", "💯", "🥹", "👏🏽", "❤️", "😎", "🤩", "🙏"),
}

EN: dict[str, Slot] = {
    "buds": ("Loop Buds", "Loop Buds", "Loop Buds Pro", "Loop Buds Pro", "buds", "new buds"),
    "watch": ("Loop Watch", "Loop Watch", "Loop Watch SE", "watch"),
    "product": ("Loop Buds", "Loop Buds Pro", "Loop Watch", "Loop Watch SE", "Loop Buds", "charging case"),
    "app": ("the Brightloop app", "the app", "the Loop app", "Brightloop app"),
    "days": ("3 days", "a week", "10 days", "two weeks", "almost a month", "5 business days", "12 days",
             "over a week", "6 weeks", "4 days"),
    "time_ago": ("yesterday", "last Tuesday", "this morning", "on the 3rd", "last week", "two days ago",
                 "on Friday", "a month ago"),
    "hours": ("2", "3", "under 4", "like 2.5", "barely 3", "maybe 90 minutes, so 1.5"),
    "country": ("Canada", "Belgium", "Ireland", "Switzerland", "Australia", "Portugal", "Quebec", "Mexico"),
    "status": ("in transit", "label created", "awaiting pickup", "processing", "out for delivery"),
    "anger": ("Not ok.", "Seriously??", "This is ridiculous.", "Getting really tired of this.", "Help??",
              "pls fix", "What is going on.", "Unacceptable tbh.", "Come on.", "I'm done.", "{feeling}",
              "wtf", "Not impressed.", "Sort it out."),
    "help": ("Any help appreciated!", "Thanks in advance.", "Can someone help?", "Please advise.",
             "help pls", "Who do I talk to?", "DMs open."),
    "great": ("unreal", "ridiculous", "next level", "so good", "chef's kiss", "a game changer", "wild"),
    "opener": ("", "", "", "", "", "ok so ", "Hi, ", "hey ", "Honestly ", "not gonna lie, ", "Quick one: ",
               "ugh. ", "So… ", "Morning ", "uh "),
    "nudge": ("any news?", "hello?? anyone?", "still nothing", "bump", "any update?", "still waiting",
              "anyone there?", "…crickets", "hellooo"),
    "tried": ("tried resetting like the FAQ says", "re-paired them twice", "reinstalled the app",
              "cleaned the contacts", "did the 15-second reset", "tried another cable", "logged out and back in"),
    "result": ("didn't help", "no luck", "same thing", "still broken", "nothing changed", "no difference"),
    "later": ("tonight", "after work", "in a bit", "tomorrow"),
    "complaints": ("of these posts", "more posts", "complaints", "of us", "angry customers", "tweets… sorry, posts"),
    "speak_up": ("say something", "post a statement", "acknowledge this", "pull the update", "reply to anyone"),
    "when": ("today", "this week", "soon", "at all", "before the weekend"),
    "give_up": ("return it", "just return it", "ask for a refund", "switch brands", "go back to my old buds"),
    "last_time": ("last time", "last month", "in the spring one", "ever", "the last two times"),
    "hot": ("really hot", "way too hot", "burning hot", "hot enough to hurt", "too hot to touch", "scary hot"),
    "the_update": ("the 3.0 update", "last night's update", "updating to 3.0", "the update", "3.0"),
    "same": ("same here", "same", "+1, mine too", "exact same thing", "same problem", "ugh same", "me too!!",
             "this. exactly this.", "same issue", "can confirm"),
    "fix": ("try holding both buttons for 15s", "forget the device and re-pair", "DM them, they sorted mine in a day",
            "log out of the app and back in", "leave it on the charger for an hour first"),
}

FR: dict[str, Slot] = {
    "buds": ("Loop Buds", "Loop Buds", "Loop Buds Pro", "écouteurs Loop"),
    "watch": ("Loop Watch", "Loop Watch", "Loop Watch SE"),
    "product": ("les Loop Buds", "les Loop Buds Pro", "la Loop Watch", "la Loop Watch SE", "le boîtier"),
    "app": ("l'appli Brightloop", "l'appli", "l'app Loop"),
    "days": ("3 jours", "une semaine", "10 jours", "deux semaines", "presque un mois", "12 jours",
             "plus d'une semaine", "6 semaines"),
    "time_ago": ("hier", "mardi dernier", "ce matin", "le 3", "la semaine dernière", "avant-hier",
                 "vendredi", "il y a un mois"),
    "hours": ("2", "3", "à peine 3", "moins de 4"),
    "country": ("Belgique", "Suisse", "Canada", "Québec", "Espagne", "Italie"),
    "status": ("en préparation", "en transit", "en attente de prise en charge", "en cours d'acheminement"),
    "anger": ("C'est pas normal.", "Sérieusement ??", "C'est n'importe quoi.", "J'en ai marre.", "Aidez-moi.",
              "{feeling}", "Franchement bof.", "Inadmissible.", "On se moque de qui ?", "Ras-le-bol."),
    "help": ("Merci d'avance.", "Quelqu'un peut m'aider ?", "Je fais comment ?", "Besoin d'aide svp.",
             "MP ouverts."),
    "great": ("incroyable", "dingue", "top", "ouf", "trop bien", "parfait"),
    "opener": ("", "", "", "", "", "Bonjour, ", "Salut ", "Bon. ", "Alors ", "Franchement, ",
               "Petit coup de gueule : "),
    "relance": ("des nouvelles ?", "quelqu'un ?", "up", "toujours rien", "allô ?", "toujours pas de réponse"),
    "essai": ("réinitialisé comme dans la FAQ", "réappairé deux fois", "réinstallé l'appli", "nettoyé les contacts",
              "changé de câble"),
    "resultat": ("ça n'a rien changé", "sans succès", "toujours pareil", "rien à faire"),
    "plus_tard": ("ce soir", "demain", "tout à l'heure"),
    "chaud": ("brûlant", "super chaud", "beaucoup trop chaud", "impossible à tenir"),
    "pareil": ("pareil", "moi aussi", "idem", "même problème", "pareil ici", "+1", "je confirme"),
    "astuce": ("maintiens les deux boutons 15s", "supprime l'appareil et réappaire-le",
               "envoie-leur un MP, ça a été rapide pour moi", "déconnecte-toi de l'appli et reconnecte-toi"),
}


# --- templates: topics of a first post ------------------------------------
# "{b}" is the brand's handle (or its plain name); every text ends up
# mentioning the handle, because that is what makes it a mention.

CARE_TOPICS = ("refund", "delivery", "update", "battery", "case", "login", "billing")
MARKETING_TOPICS = ("praise", "buzz", "giveaway")

TEMPLATES: dict[tuple[str, str], tuple[str, ...]] = {
    ("refund", "en"): (
        "{b} I returned my {product} {days} ago and still no refund. Order {order}. {anger}",
        "hey {b}, when exactly do refunds go through? it's been {days} since you got my return",
        "Still waiting on a refund of {price} from {b}. Three emails, zero answers. {feeling}",
        "{b} your site says refund issued but my bank shows nothing after {days}. {help}",
        "Sent back my {product} (order {order}), tracking says it reached your warehouse {time_ago}. "
        "where's my money {b}?",
        "{b} refund for order {order} has been 'processing' for {days}. what does that even mean",
        "do I need to open a dispute with my bank to get a refund {b}? {days} now",
        "asked for a refund on the {product}, got a voucher instead?? I want my {price} back {b}",
    ),
    ("refund", "fr"): (
        "{b} j'ai renvoyé mes {buds} il y a {days} et toujours pas de remboursement. Commande {order}. {anger}",
        "{b} ça fait {days} que j'attends mon remboursement de {price}… sérieusement ?",
        "remboursement « en cours de traitement » depuis {days} {b}, ça veut dire quoi exactement ?",
        "{b} on m'a proposé un avoir au lieu d'un remboursement ?? je veux mes {price}",
        "toujours rien sur mon compte {b}, le retour est arrivé chez vous {time_ago}",
    ),
    ("delivery", "en"): (
        "{b} my order is late. Was supposed to arrive {time_ago}, tracking hasn't moved in {days}. {anger}",
        "delivery was late AGAIN {b}. second time this month {feeling}",
        "{b} tracking for order {order} just says '{status}'. it's been {days}",
        "{b} the courier marked my {product} as delivered but there's nothing here. {help}",
        "paid for express shipping on the {product}, {days} later still nothing. why did I pay for express {b}",
        "is anyone else's {b} order stuck on '{status}'? mine's been there {days}",
        "{b} any idea when order {order} ships? the site said 2-3 days, {days} ago",
        "my {product} arrived but the box was open and the cable is missing {b} {feeling}",
        "{b} where is my order?? {tracking}",
    ),
    ("delivery", "fr"): (
        "{b} ma commande est en retard, le suivi n'a pas bougé depuis {days} {feeling}",
        "livraison en retard ENCORE une fois {b}. {anger}",
        "{b} colis marqué livré mais rien dans ma boîte aux lettres. {help}",
        "commande {order} toujours « {status} » après {days}, c'est normal {b} ?",
        "{b} j'ai payé la livraison express pour {product} et {days} après toujours rien",
        "{b} il est où mon colis ? {tracking}",
    ),
    ("update", "en"): (
        "{b} since the {version} update my {buds} keep disconnecting every few minutes. {anger}",
        "after updating to {version} my {watch} won't sync with {app} anymore. {help}",
        "{b} the latest update broke noise cancelling on my {buds}. it was fine {time_ago}",
        "Updated my {buds} last night, now the left one won't pair at all. {b} how do I roll back?",
        "firmware {version} on the {watch}: screen freezes, step count reset to 0. {b} pls fix",
        "{b} is there a known issue with update {version}? my {product} is basically a brick now {feeling}",
        "why does every update make the {buds} worse {b}. touch controls dead since {version}",
        "broken after update. {buds} worked perfectly before {version} {b} {photo}",
    ),
    ("update", "fr"): (
        "{b} depuis la mise à jour {version} mes {buds} se déconnectent toutes les 5 minutes {feeling}",
        "la mise à jour {version} a cassé la synchro de ma {watch} avec {app} {b}",
        "{b} depuis la MAJ la réduction de bruit ne marche plus sur mes {buds}",
        "{b} comment on revient à l'ancienne version ? la {version} est une catastrophe",
    ),
    ("battery", "en"): (
        "{b} battery on my {buds} is dead in {hours} hours. Box says 8. {anger}",
        "my {watch} battery used to last 3 days, now barely one. {b} is this normal?",
        "is it normal that the {buds} lose 20% in the case overnight? {b}",
        "{b} my {watch} goes from 100 to 40% in a morning. Nothing running. {help}",
        "honestly the battery life on my {product} has gotten so bad lately {feeling}",
        "{b} battery health on my {buds} after 6 months: terrible. is that covered by warranty?",
    ),
    ("battery", "fr"): (
        "{b} la batterie de mes {buds} tient {hours} heures… c'est censé être 8. {anger}",
        "ma {watch} perd 30% en une matinée sans rien faire {b}, normal ?",
        "{b} l'autonomie de ma {watch} s'est effondrée depuis la dernière mise à jour {feeling}",
    ),
    ("case", "en"): (
        "{b} the charging case won't charge the left bud. Cleaned the contacts, no luck. {help}",
        "charging case light just blinks orange and nothing charges {b} {feeling}",
        "{b} my {buds} case won't close properly anymore, hinge feels loose after {days}",
        "the case doesn't charge on my wireless pad anymore {b}, cable works though. bug?",
        "{b} charging case drains to 0 in a day even with the lid closed",
        "{b} right bud won't charge in the case unless I press it down. {photo}",
    ),
    ("case", "fr"): (
        "{b} le boîtier de charge ne charge plus l'écouteur gauche. {help}",
        "le voyant du boîtier clignote orange et plus rien ne charge {b} {feeling}",
        "{b} le boîtier se vide en une journée même fermé",
    ),
    ("login", "en"): (
        "{b} can't log into {app}, keeps saying 'session expired' right after I enter the code {feeling}",
        "{app} logs me out every time I open it. {b} what's going on",
        "{b} password reset email never arrives. checked spam. {help}",
        "is {app} down? stuck on the login screen {b}",
        "{b} the 2FA code for {app} is always 'invalid'. I literally just got it",
        "can't sign in with Apple on {app} anymore {b}. just spins",
    ),
    ("login", "fr"): (
        "{b} impossible de me connecter à {app}, « session expirée » à chaque fois {feeling}",
        "{app} me déconnecte à chaque ouverture {b}, c'est pénible",
        "{b} le mail de réinitialisation du mot de passe n'arrive jamais. {help}",
        "{app} est en panne ? bloqué sur l'écran de connexion {b}",
    ),
    ("billing", "en"): (
        "{b} I got charged twice for order {order}. {price} x2. {anger}",
        "why is there a {price} charge from Brightloop on my card, I never ordered anything {b}",
        "{b} cancelled my Loop+ subscription {time_ago} but still got billed this month",
        "{b} your invoice has the wrong address and I need it for work. how do I change it?",
        "charged full price for the {product} even though the promo code showed at checkout {b}",
    ),
    ("billing", "fr"): (
        "{b} j'ai été débité deux fois pour la commande {order}. {anger}",
        "{b} abonnement Loop+ résilié {time_ago} et prélevé quand même ce mois-ci",
        "code promo appliqué mais payé plein tarif pour {product} {b}",
    ),
    ("question", "en"): (
        "{b} does the {watch} work with a {phone}?",
        "quick q {b}: are the {buds} ok for running in the rain?",
        "{b} when does #LoopLaunch stuff ship to {country}?",
        "does anyone know if the {buds} support multipoint? {b}",
        "{b} can I use the {watch} without {app}?",
        "{b} is there a student discount on the {product}?",
        "what's the difference between Loop Buds and Loop Buds Pro apart from price? {b}",
        "{b} do replacement ear tips come in XS? mine keep falling out",
        "{b} will the {watch} get the new sleep tracking from #LoopLaunch or only new models?",
        "hey {b} where do I find the serial number on my {buds}?",
    ),
    ("question", "fr"): (
        "{b} est-ce que la {watch} est compatible avec un {phone} ?",
        "{b} quand est-ce que les nouveautés #LoopLaunch arrivent en {country} ?",
        "petite question {b} : les {buds} résistent à la pluie ?",
        "{b} on peut utiliser la {watch} sans {app} ?",
        "{b} il y a une réduction étudiante sur {product} ?",
        "{b} où trouver le numéro de série des {buds} ?",
    ),
    ("praise", "en"): (
        "ok the {buds} are actually 🔥 {b}",
        "{b} battery life on the {watch} is {great}. 4 days and still at 30% {happy}",
        "shoutout to {b} support, had a replacement {product} in 2 days {happy}",
        "been using the {buds} for a month now and wow, the noise cancelling on the train is {great}",
        "{b} the new app update is so much smoother, nice work {happy}",
        "my {product} survived a full marathon in the rain. impressed {b} {happy}",
        "can't believe how good these {buds} sound for the price {b} {happy}",
        "{b} you've got a customer for life. the {product} is {great}",
    ),
    ("praise", "fr"): (
        "franchement les {buds} sont {great} {b} {happy}",
        "{b} 4 jours d'autonomie sur la {watch}, je suis bluffé {happy}",
        "merci au SAV {b}, remplacement reçu en 2 jours {happy}",
        "la réduction de bruit des {buds} dans le métro c'est {great}",
    ),
    ("buzz", "en"): (
        "who else is watching the #LoopLaunch stream tonight? {b} {happy}",
        "#LoopLaunch: the new Loop Watch colours look {great} {b}",
        "{b} that #LoopLaunch teaser 👀 please tell me it's Loop Buds 3",
        "just preordered the new {product} after #LoopLaunch, no regrets {happy}",
        "hot take: #LoopLaunch was the best tech event this year {b}",
        "{b} is the #LoopLaunch replay up anywhere? missed it",
        "that transparent case from #LoopLaunch though {happy} https://brightloop.example/launch",
    ),
    ("buzz", "fr"): (
        "qui regarde le live #LoopLaunch ce soir ? {b} {happy}",
        "{b} les nouvelles couleurs de la Loop Watch à #LoopLaunch 😍",
        "précommande faite pour {product} après #LoopLaunch, aucun regret",
        "{b} le replay de #LoopLaunch est dispo où ?",
    ),
    ("giveaway", "en"): (
        "Entered #WinWithLoop 🤞 pick me {b}!",
        "{b} #WinWithLoop I'd give the {buds} to my mum, hers broke {happy}",
        "follow {b} + share to win a {product}! #WinWithLoop https://brightloop.example/win",
        "did anyone actually win #WinWithLoop {last_time}? {b}",
        "{friend} look, {b} is giving away {product} #WinWithLoop",
        "{b} when are the #WinWithLoop winners announced?",
        "day {n} of entering #WinWithLoop until {b} notices me {happy}",
    ),
    ("giveaway", "fr"): (
        "je participe au #WinWithLoop 🤞 {b}",
        "{b} #WinWithLoop je les offrirais à ma sœur {happy}",
        "{friend} regarde, {b} fait gagner des {buds} #WinWithLoop #concours",
        "{b} les gagnants du #WinWithLoop sont annoncés quand ?",
    ),
    ("both", "en"): (
        "love the new {buds} but my order is late {b} {feeling}",
        "#LoopLaunch looked amazing {b} but maybe fix my refund first? order {order}",
        "entered #WinWithLoop but honestly I'd settle for my {product} actually arriving {b}",
        "{b} the {watch} is the best thing I bought this year. the app login though… {feeling}",
        "preordered at #LoopLaunch, got charged twice. still excited but {b} pls sort it",
        "{b} great giveaway energy but my charging case has been broken for {days} #WinWithLoop",
        "the {buds} sound incredible and I want to love them but the {version} update keeps dropping "
        "the connection {b}",
        "hyped for #LoopLaunch but can someone at {b} answer my ticket from {time_ago} first?",
    ),
    ("both", "fr"): (
        "j'adore mes nouveaux {buds} mais ma commande est en retard {b} {feeling}",
        "#LoopLaunch c'était top {b}, mais mon remboursement il arrive quand ?",
        "je participe au #WinWithLoop mais j'aimerais surtout recevoir ma commande {order} {b}",
        "{b} la {watch} est géniale mais impossible de me connecter à l'appli {feeling}",
    ),
    ("spam", "en"): (
        "Earn $500/day from home!!! no experience needed {b} https://easy-cash.example/start",
        "{b} cheap Loop Buds 90% off here https://l00pbuds-deals.example",
        "follow back? {b} {happy}",
        "DM me for collab {b} 💸💸",
    ),
    ("spam", "fr"): (
        "Gagnez 500€/jour depuis chez vous !!! {b} https://easy-cash.example/fr",
    ),
}

# What people attach to a first post, by topic.
HASHTAGS: dict[str, tuple[str, ...]] = {
    "refund": ("#customerservice", "#refund", "#fail"),
    "delivery": ("#delivery", "#stillwaiting", "#customerservice"),
    "update": ("#LoopBuds", "#firmware", "#fail", "#bug"),
    "battery": ("#LoopBuds", "#LoopWatch", "#battery"),
    "case": ("#LoopBuds", "#hardware"),
    "login": ("#appfail", "#bug"),
    "billing": ("#billing", "#customerservice"),
    "question": ("#LoopWatch", "#LoopBuds", "#help"),
    "praise": ("#LoopBuds", "#LoopWatch", "#audio", "#happycustomer"),
    "buzz": ("#LoopLaunch", "#tech", "#gadgets"),
    "giveaway": ("#WinWithLoop", "#giveaway", "#contest"),
    "both": ("#LoopLaunch", "#WinWithLoop"),
    "spam": ("#money", "#deal"),
}
HASHTAGS_FR = {"refund": ("#SAV", "#remboursement"), "delivery": ("#livraison", "#SAV"),
               "giveaway": ("#concours", "#WinWithLoop"), "buzz": ("#LoopLaunch", "#nouveauté")}

# --- replies within a thread ------------------------------------------------

CARE_GROUP = frozenset(CARE_TOPICS) | {"both", "incident"}


def group_of(topic: str) -> str:
    if topic in CARE_GROUP:
        return "care"
    return "question" if topic == "question" else "social"


# (group, who, lang): "self" is the thread's first author coming back,
# "other" someone else chiming in; {p} is the handle being answered.
FOLLOWUPS: dict[tuple[str, str, str], tuple[str, ...]] = {
    ("care", "self", "en"): (
        "update: {nudge} {b}", "{b} {nudge} {feeling}", "edit: {tried}, {result}",
        "{p} yeah I {tried}, {result}", "{p} thanks, will try that {later}",
        "ok so the support chat just closed on me. great {feeling}", "{b} {nudge}",
        "update:\nsupport chat says 5-7 more days. {anger}", "also, order number is {order} if that helps {b}",
        "forgot to say: I {tried}. {result}", "{p} {result} for me either {feeling}",
    ),
    ("care", "other", "en"): (
        "{same} {feeling} {b}", "{p} {same}, since {version}", "{same} {b}",
        "{p} {fix}, fixed it for me", "{p} {fix}. worked for me",
        "{b} this is like the {n}th post about this I've seen today", "{p} ugh sorry, had the same thing last month",
        "{p} {same}. {b} please look into this", "{p} happened to me too, took {days} in the end",
    ),
    ("care", "self", "fr"): (
        "{relance} {b}… {feeling}", "{b} {relance}", "{p} déjà {essai}, {resultat}", "{p} merci, je teste {plus_tard}",
        "mise à jour : le SAV dit encore 5 à 7 jours. {anger}", "edit : j'ai {essai}, {resultat}",
        "au fait, commande {order} {b}",
    ),
    ("care", "other", "fr"): (
        "{pareil} {feeling} {b}", "{p} {pareil}, depuis la {version}", "{pareil} {b}",
        "{p} {astuce}, ça a marché pour moi", "{p} moi aussi, ça a pris {days}",
        "{p} {pareil}. {b} vous regardez ?",
    ),
    ("incident", "self", "en"): (
        "{b} {nudge}", "{b} any ETA on a fix?", "update: {tried}, {result}",
        "{b} is there a status page for this? {feeling}",
        "{p} glad it's not just me", "so is this getting fixed {when} or should I {give_up} {b}",
        "{p} {same} {feeling}",
    ),
    ("incident", "other", "en"): (
        "{same} {b}", "{p} {same}", "{p} glad it's not just me {feeling}",
        "{b} how many {complaints} do you need before you {speak_up}",
        "{p} {same}, started {n} minutes ago", "{b} {n} people in my group chat have this too",
        "{p} support line says they're 'aware of the issue'", "{p} {tried}, {result}",
    ),
    ("incident", "self", "fr"): (
        "{b} {relance}", "{b} une idée de quand ce sera corrigé ?", "{p} ouf, je suis pas le seul",
        "edit : j'ai {essai}, {resultat}",
    ),
    ("incident", "other", "fr"): (
        "{pareil} {b}", "{p} {pareil}", "{p} ouf, pas que moi {feeling}", "{b} vous communiquez quand ?",
        "{p} {pareil}, depuis {n} minutes",
    ),
    ("question", "self", "en"): ("{nudge} {b}", "{p} oh nice, thanks!", "{p} good to know, thank you {happy}",
                                 "{p} ah ok, I'll wait then"),
    ("question", "other", "en"): (
        "{p} yes it does, using mine with a {phone}", "also wondering this {b}", "{p} same question here",
        "{p} pretty sure it's coming in the next update", "{p} I asked the same {time_ago}, no answer yet",
    ),
    ("question", "self", "fr"): ("{relance} {b}", "{p} ah super, merci !", "{p} ok je vais attendre alors"),
    ("question", "other", "fr"): ("{p} oui, je l'utilise avec un {phone}", "je me pose la même question {b}",
                                  "{p} normalement ça arrive avec la prochaine MAJ"),
    ("social", "self", "en"): ("{p} haha right?? {happy}", "{p} 100%", "{p} thank you!! {happy}",
                               "edit: wow this blew up {happy}", "also the case is so satisfying to click {happy}",
                               "{p} you won't regret it"),
    ("social", "other", "en"): (
        "{p} agreed!! {happy}", "{p} same, love mine", "{p} wait is it that good? thinking of getting one",
        "{p} good luck!! 🤞", "{p} omg I want one", "{p} lol same {happy}", "this is so true {happy}",
        "{p} {same}, {great}",
    ),
    ("social", "self", "fr"): ("{p} haha grave {happy}", "{p} merci !!", "edit : merci pour tous vos messages {happy}"),
    ("social", "other", "fr"): ("{p} trop d'accord {happy}", "{p} bonne chance 🤞", "{p} pareil, j'adore les miens",
                                "tellement vrai {happy}", "{p} c'est {great} {happy}"),
}

# The person the brand answered, answering back: (group, outcome, lang).
REPLY_FOLLOWUPS: dict[tuple[str, str, str], tuple[str, ...]] = {
    ("care", "good", "en"): (
        "thanks, that fixed it! {happy}", "ok that worked, you're a lifesaver", "just DMed you the order number",
        "refund just came through, thanks {b}", "perfect, thank you 🙏", "that did it. appreciate the quick reply",
    ),
    ("care", "bad", "en"): (
        "still broken...", "tried that already, still nothing {feeling}", "that's what the last person said too",
        "ok DM sent but I've done this twice already", "nope, same problem after the reset",
        "{b} a canned reply isn't a fix. {anger}",
    ),
    ("care", "good", "fr"): (
        "merci, ça marche ! {happy}", "c'est réglé, merci beaucoup", "je vous ai envoyé le numéro en MP",
        "remboursement reçu, merci {b}",
    ),
    ("care", "bad", "fr"): (
        "toujours en panne…", "déjà essayé, toujours rien {feeling}", "c'est ce qu'on m'a déjà dit la dernière fois",
        "MP envoyé mais c'est la 3e fois", "{b} une réponse toute faite ne règle rien. {anger}",
    ),
    ("question", "good", "en"): ("perfect, thanks!", "oh great, ordering now {happy}", "good to know, thank you"),
    ("question", "bad", "en"): ("hm ok, that's a shame", "so… no then? {feeling}"),
    ("question", "good", "fr"): ("super, merci !", "parfait, merci pour la réponse"),
    ("question", "bad", "fr"): ("ah dommage", "donc c'est non ? {feeling}"),
    ("social", "good", "en"): ("❤️", "haha thank you!! {happy}", "you guys rock", "{happy}{happy}"),
    ("social", "bad", "en"): ("lol ok", "a bot reply? really?"),
    ("social", "good", "fr"): ("❤️", "merci !! {happy}", "vous êtes top"),
    ("social", "bad", "fr"): ("mdr ok", "une réponse de robot ?"),
}

# --- launch-day incidents ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Incident:
    key: str
    title: str
    en: tuple[str, ...]
    fr: tuple[str, ...]
    hashtags: tuple[str, ...]


INCIDENTS: tuple[Incident, ...] = (
    Incident("fw21-disconnects", "firmware 2.1 disconnects Loop Buds", (
        "{b} firmware 2.1 BROKE my Loop Buds. disconnecting every 2 minutes {feeling}",
        "anyone else's Loop Buds dropping bluetooth since 2.1?? {b}",
        "{b} PULL THE 2.1 UPDATE. my buds won't stay connected for more than a song",
        "so the 2.1 update just killed bluetooth on my Loop Buds. cool. cool cool cool {b}",
        "{b} my Loop Buds keep cutting out since this morning's update. left bud disconnects, reconnects, "
        "disconnects again",
        "2.1 firmware = constant disconnects. on a call with my boss and both buds just dropped {feeling} {b}",
        "{b} is there a fix coming for the 2.1 disconnect issue or should I return these",
        "can confirm, Loop Buds + firmware 2.1 = unusable. {b}",
        "{b} why would you push an update on launch day that breaks the ONE thing earbuds need to do",
        "my buds updated to 2.1 overnight and now they won't hold a connection to my {phone} {b}",
        "Loop Buds disconnecting every few minutes after updating. re-paired {n} times already {b} {anger}",
    ), (
        "{b} depuis le firmware 2.1 mes Loop Buds se déconnectent sans arrêt {feeling}",
        "la MAJ 2.1 a cassé le bluetooth des Loop Buds, c'est une blague {b} ?",
        "{b} retirez la 2.1 !! impossible de garder les écouteurs connectés plus de 2 minutes",
        "moi aussi, Loop Buds + 2.1 = déconnexions en boucle {b}",
        "{b} mes Loop Buds coupent toutes les deux minutes depuis la mise à jour de ce matin. {anger}",
    ), ("#LoopBuds", "#firmware21", "#fail", "#LoopLaunch")),
    Incident("checkout-double-charge", "checkout double-charges preorders", (
        "{b} your checkout charged me TWICE for my #LoopLaunch preorder. {price} x2 {anger}",
        "just got 2 identical charges from Brightloop on my card. the preorder went through once. "
        "{b} refund the duplicate please",
        "{b} checkout spun forever, I clicked once, bank shows two payments of {price}",
        "PSA: the Brightloop preorder checkout is double charging people. check your bank {b}",
        "{b} double charged on the Loop Watch preorder. I'm now overdrawn thanks to you",
        "anyone else charged twice for the #LoopLaunch preorder?? {b}",
        "{b} one order number, two payments. fix your checkout {feeling}",
        "got billed twice for the same preorder {b}. support chat queue is {n}00+ people {feeling}",
        "{b} order {order}: charged {price} two times within a minute. {anger}",
    ), (
        "{b} débité DEUX fois pour ma précommande #LoopLaunch {anger}",
        "attention, le paiement Brightloop prélève deux fois ! vérifiez vos comptes {b}",
        "{b} une seule commande, deux prélèvements de {price}. remboursez svp",
        "{b} précommande {order} payée deux fois… {feeling}",
    ), ("#LoopLaunch", "#doublecharged", "#fail")),
    Incident("app-login-outage", "Brightloop app login outage", (
        "{b} the app is down. can't log in, 'error 503' {feeling}",
        "Brightloop app keeps logging me out and now won't let me back in {b}",
        "{b} can't set up my new Loop Watch because the app login is broken. great launch day",
        "is the Brightloop app down for everyone or just me? {b}",
        "{b} login screen just spins forever. tried wifi, 4G, reinstall. nothing",
        "'Something went wrong. Try again later.' ok but WHEN {b}",
        "{b} my watch is useless without the app and the app won't let me in {anger}",
        "{b} app says 'we're having trouble signing you in' for {n} minutes now",
        "{b} reset my password {n} times, still can't get into the app",
        "launch day and the Brightloop app won't even log in lol. {b} {feeling}",
        "{b} logged out of the app by itself and now the login page just errors. status page says all green??",
    ), (
        "{b} l'appli est en panne, impossible de se connecter (erreur 503)",
        "l'app Brightloop me déconnecte et refuse de me reconnecter {b} {feeling}",
        "{b} impossible de configurer ma nouvelle Loop Watch, l'appli plante à la connexion",
    ), ("#appdown", "#LoopLaunch", "#fail")),
    Incident("watch-bootloop", "Loop Watch 3.0 update bootloop", (
        "{b} my Loop Watch has been stuck on the logo since the 3.0 update {feeling}",
        "Loop Watch 3.0 update = bootloop. it just restarts over and over {b}",
        "{b} watch froze mid-update and now shows the loop logo forever. how do I reset this",
        "anyone else's Loop Watch stuck restarting after tonight's update? {b}",
        "{b} update 3.0 killed my watch. it's literally a bracelet now {anger}",
        "{b} 3.0 bricked my Loop Watch SE {photo}",
        "{b} Loop Watch stuck in a restart loop since {the_update}. held the button {n} seconds, nothing",
        "my watch has shown the boot logo for {n} minutes now {b} {feeling}",
        "{b} is there a way to force-reset a Loop Watch stuck on the logo? {the_update} broke it",
        "welp. {the_update} and my Loop Watch won't boot. {b}",
        "{b} watch reboots every {n} seconds after the update. can't even turn it off",
    ), (
        "{b} ma Loop Watch reste bloquée sur le logo depuis la mise à jour 3.0",
        "la MAJ 3.0 fait redémarrer la Loop Watch en boucle {b} {feeling}",
        "{b} Loop Watch bloquée depuis la 3.0, elle redémarre toutes les {n} secondes",
    ), ("#LoopWatch", "#bootloop", "#fail")),
    Incident("case-overheating", "charging case overheating", (
        "{b} my Loop Buds case got really hot while charging tonight. like too hot to hold {feeling}",
        "is it normal for the charging case to get this hot?? unplugged it immediately {b}",
        "{b} charging case burning hot + smell of plastic. is this a recall situation?",
        "{b} the case of my Loop Buds Pro is warping from the heat {photo}",
        "anyone else's Loop Buds case overheating after the update? {b}",
        "{b} the charging case gets {hot} on the charger. kids use these, is it safe??",
        "{b} left my buds charging, came back and the case was {hot}. unplugged and it's on the balcony now",
        "{b} my Loop Buds case is {hot} and the light is flashing red {feeling}",
        "case is {hot} after {n} minutes on the charger {b}. this can't be normal",
        "{b} should I stop charging my Loop Buds? case gets {hot} since yesterday {photo}",
    ), (
        "{b} le boîtier de charge de mes Loop Buds chauffe énormément, c'est dangereux ?",
        "{b} boîtier brûlant pendant la charge, odeur de plastique… {anger}",
        "{b} mon boîtier Loop Buds est {chaud} en charge, je le laisse débranché ?",
    ), ("#LoopBuds", "#safety", "#recall")),
)

# Literal brackets people type, which a UI that parses markup would eat.
BRACKETS = ("[sic]", "[bold]", "[b]", "[/]", "[red]", "[1/2]", "[URGENT]", "[edit]", "[@click=app.quit]",
            "[link=https://brightloop.example]")


# --- rendering ----------------------------------------------------------------

_SLOT = re.compile(r"\{(\w+)\}")
_WORD = re.compile(r"^[A-Za-zÀ-ÿ']{4,}$")
_EN_SLANG = {"you": "u", "please": "pls", "thanks": "thx", "really": "rly", "because": "bc", "don't": "dont",
             "can't": "cant", "I'm": "im", "it's": "its", "won't": "wont", "received": "recieved",
             "definitely": "definately", "tomorrow": "tmrw", "people": "ppl"}
_FR_SLANG = {"c'est": "cest", "déjà": "deja", "très": "tres", "s'il": "sil", "quelqu'un": "qqn",
             "toujours": "tjrs", "beaucoup": "bcp", "pourquoi": "pk", "aujourd'hui": "ajd", "être": "etre"}


def fill(template: str, rng: random.Random, lang: str, context: Mapping[str, str]) -> str:
    """Replace each {slot} with a value: context first, then the language's table, then common."""
    table = FR if lang == "fr" else EN

    def pick(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in context:
            return context[name]
        slot = table.get(name) or COMMON.get(name)
        if slot is None:
            raise KeyError(f"no slot named {name!r}")
        return slot(rng) if callable(slot) else rng.choice(slot)

    text = template
    for _ in range(3):  # slot values may hold slots ("{anger}" can be "{feeling}")
        if "{" not in text:
            break
        text = _SLOT.sub(pick, text)
    return text


def _mistype(word: str, rng: random.Random) -> str:
    chars = list(word)
    i = rng.randrange(1, len(chars) - 1)
    move = rng.randrange(3)
    if move == 0:
        chars[i], chars[i + 1] = chars[i + 1], chars[i]
    elif move == 1:
        del chars[i]
    else:
        chars.insert(i, chars[i])
    return "".join(chars)


def roughen(text: str, author: Author, rng: random.Random, lang: str) -> str:
    """Type it the way this person types: slang, slips, dropped accents, no capitals."""
    slang = _FR_SLANG if lang == "fr" else _EN_SLANG
    words = text.split(" ")
    for i, word in enumerate(words):
        if not word or word[0] in "@#" or word.startswith("http"):
            continue
        if word in slang and rng.random() < 0.25 + author.typos * 2:
            words[i] = slang[word]
        elif author.typos and _WORD.match(word) and rng.random() < author.typos:
            words[i] = _mistype(word, rng)
        elif lang == "fr" and author.typos and rng.random() < 0.3:
            words[i] = word.translate(_NO_ACCENTS)
        if author.lowercase:
            words[i] = words[i].lower()
    return " ".join(words)


_NO_ACCENTS = str.maketrans("éèêàâùûîïôç", "eeeaauuiioc")


def tidy(text: str) -> str:
    """Collapse the doubled spaces that empty slots leave behind."""
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return "\n".join(lines).strip()


# --- composing whole posts --------------------------------------------------------


def _with_brackets(text: str, rng: random.Random) -> str:
    token = rng.choice(BRACKETS)
    words = text.split(" ")
    i = rng.randrange(len(words))
    if token in ("[bold]", "[b]", "[red]"):
        words[i] = f"{token}{words[i]}[/{token[1:-1]}]"
    elif token == "[@click=app.quit]":
        words.insert(i, "[@click=app.quit]free buds here[/]")
    elif token.startswith("[link="):
        words.append(f"{token}claim your prize[/link]")
    elif token in ("[URGENT]", "[1/2]", "[edit]"):
        words.insert(0, token)
    else:
        words.insert(i + 1, token)
    return " ".join(words)


def _finish(text: str, rng: random.Random, *, author: Author, lang: str, brand: str,
            tags: tuple[str, ...], moods: str, extra: Mapping[str, str] | None = None) -> str:
    """Add what a person adds (tags, emoji, line breaks, stray brackets) and type it their way."""
    if tags and rng.random() < 0.3:
        for tag in rng.sample(tags, k=min(len(tags), rng.choice((1, 1, 2)))):
            if tag.lower() not in text.lower():
                text += " " + tag
    if rng.random() < author.emoji:
        text += " " + "".join(fill("{" + moods + "}", rng, lang, {}) for _ in range(rng.choice((1, 1, 2, 3))))
    if rng.random() < 0.06:
        text = re.sub(r"([.?!…]) ", r"\1\n\n", text, count=1)
    if rng.random() < 0.25:
        text = re.sub(r"([?!])(?=\s|$)", lambda m: m.group(1) * rng.choice((2, 3)), text, count=1)
    text = roughen(text, author, rng, lang)
    if rng.random() < 0.025:
        text = _with_brackets(text, rng)
    if brand.lower() not in text.lower():
        # A reply-style mention: the client puts the handle first.
        text = f"{brand} {text}"
    return tidy(text)


def first_post(rng: random.Random, topic: str, author: Author, lang: str, brand: str, friend: str) -> str:
    template = rng.choice(TEMPLATES[topic, lang])
    if template.startswith("{b}"):
        template = "{opener}" + template
    care = topic in CARE_GROUP
    if care and rng.random() < 0.08:
        template += " " + rng.choice(("pic: {photo}", "{photo}", "(photo {photo})"))
    if rng.random() < 0.04:
        template += " cc {friend}"
    text = fill(template, rng, lang, {"b": brand, "friend": friend})
    tags = HASHTAGS[topic] + (HASHTAGS_FR.get(topic, ()) if lang == "fr" else ())
    return _finish(text, rng, author=author, lang=lang, brand=brand, tags=tags,
                   moods="feeling" if care else "happy")


def incident_post(rng: random.Random, incident: Incident, author: Author, lang: str, brand: str) -> str:
    template = rng.choice(incident.fr if lang == "fr" else incident.en)
    if template.startswith("{b}"):
        template = "{opener}" + template
    text = fill(template, rng, lang, {"b": brand})
    if rng.random() < 0.3:
        if rng.random() < 0.3:  # shouting, but handles and links keep their case
            text = " ".join(w if w[:1] in "@#" or w.startswith("http") else w.upper() for w in text.split(" "))
        else:
            text += " " + fill("{anger}", rng, lang, {})
    return _finish(text, rng, author=author, lang=lang, brand=brand, tags=incident.hashtags, moods="feeling")


def thread_post(rng: random.Random, group: str, who: str, author: Author, lang: str, brand: str,
                answering: str) -> str:
    """A post further down a thread, answering `answering` (a handle; "" when it is the author's own)."""
    templates = FOLLOWUPS[group, who, lang]
    if not answering:
        templates = tuple(t for t in templates if "{p}" not in t) or templates
    text = fill(rng.choice(templates), rng, lang, {"b": brand, "p": answering})
    return _finish(text, rng, author=author, lang=lang, brand=brand, tags=(),
                   moods="feeling" if group == "care" else "happy")


def answer_to_brand(rng: random.Random, group: str, good: bool, author: Author, lang: str, brand: str) -> str:
    """What someone says back after the brand replied to them."""
    text = fill(rng.choice(REPLY_FOLLOWUPS[group, "good" if good else "bad", lang]), rng, lang, {"b": brand})
    return _finish(text, rng, author=author, lang=lang, brand=brand, tags=(),
                   moods="happy" if good else "feeling")
