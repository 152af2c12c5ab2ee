"""The demo flood: a cancelled festival day ("Brightloop Live") and a delayed shipment, as people post them.

Many wordings of the same few complaints in English and French, with typos,
shouting, retweet-style copies and links to photos, plus the one-off praise
and questions that keep flowing beside it. Used by the demo network's flood
(`--demo-flood`) and by the labelled flood in tests/fixtures.
"""

from __future__ import annotations

import random

TOPICS: dict[str, list[str]] = {
    "cancelled": [
        "Brightloop Live is CANCELLED?? we flew in from Lyon for this",
        "so the show got cancelled an hour before doors. unreal",
        "Just got the email: Brightloop Live cancelled. Are you serious",
        "cancelled the whole festival day with zero notice, thanks a lot",
        "wait the Brightloop Live show is cancelled?? nobody told us at the gate",
        "concert cancelled and we're still standing at the gate",
        "Brightloop Live annulé?? on a fait 6h de route",
        "le concert est annulé une heure avant, sérieux",
        "festival annulé sans prévenir, bravo",
    ],
    "refund": [
        "I want a full refund for the Brightloop Live tickets. Now.",
        "how do I get my refund for the cancelled show tickets",
        "refund my tickets please, order BL-4471",
        "when do we get refunds for Brightloop Live? 3 tickets, 540 euros",
        "still no refund email. where is my money for the tickets",
        "give us our money back for the tickets. full refund",
        "remboursement des billets quand ?? 3 billets pour rien",
        "je veux être remboursé pour mes billets",
        "comment on se fait rembourser les billets du festival",
    ],
    "stranded": [
        "stuck at the airport, the festival shuttle never came",
        "no shuttle from the airport, 200 people waiting here",
        "the shuttle to the island left without us. stranded at the airport",
        "we're stranded at the airport with no shuttle and no info",
        "airport shuttle cancelled too? we are stuck here",
        "bloqués à l'aéroport, pas de navette",
        "la navette de l'aéroport n'est jamais venue",
    ],
    "food_water": [
        "there is no water on site. people are fainting",
        "no food, no water, just a cheese sandwich in a box",
        "the 'gourmet catering' is a cheese sandwich and no water",
        "where is the food? where is the water? it's 34 degrees",
        "they ran out of water at 2pm. no food trucks either",
        "pas d'eau, pas de nourriture, un sandwich au fromage",
        "plus d'eau sur le site, il fait 34 degrés",
    ],
    "tents": [
        "the 'luxury villas' are soaked disaster relief tents",
        "our tent is soaked, the mattress is wet, this is the luxury villa?",
        "luxury villas = wet tents with no beds",
        "rain last night, every tent in the village is soaked",
        "the tents have no beds and they're soaking wet",
        "les villas de luxe sont des tentes trempées",
        "tente trempée, pas de lit, c'est ça le luxe ?",
    ],
    "no_answer": [
        "nobody from Brightloop answers. any update at all??",
        "@brightloop why is nobody answering? we need an update",
        "zero updates from the organisers, what is going on",
        "can someone from Brightloop give us an update please",
        "three hours, no update, no answer from anyone",
        "personne ne répond, aucune mise à jour",
        "des nouvelles ?? personne ne nous répond",
    ],
    "shipping": [
        "my Loop Buds order still hasn't shipped, it's been 3 weeks",
        "order shipped? tracking says label created since 10 days",
        "where is my order?? tracking hasn't moved in 2 weeks",
        "my preorder was supposed to ship on the 1st. still nothing",
        "tracking stuck on 'label created' for my Loop Buds order",
        "ma commande n'est toujours pas expédiée, 3 semaines",
        "suivi bloqué depuis 10 jours, où est ma commande",
    ],
    "giveaway": [
        "entering the #WinWithLoop giveaway! 🎧",
        "#WinWithLoop count me in!!",
        "me me me #WinWithLoop 🎁",
        "entering #WinWithLoop, fingers crossed",
        "je participe #WinWithLoop 🤞",
    ],
}

ONE_OFFS = [
    "love the sound on my Loop Buds, best purchase this year",
    "does the charging case work with qi pads?",
    "what's the battery life on the new Dock?",
    "your app dark mode is so nice",
    "is there a student discount?",
    "the Buds pair instantly with my laptop, impressed",
    "any plans for a blue colour?",
    "can I change the shipping address after ordering?",
    "j'adore le son des Loop Buds",
    "est-ce que le boîtier est compatible qi ?",
    "Great customer service from Maya yesterday, thanks!",
    "how long is the warranty in Canada?",
    "the firmware update fixed my bluetooth drop, cheers",
    "bought a second pair for my dad",
    "is the Dock compatible with the old Buds?",
    "your billboard in Paris looks great",
]

PHOTOS = ["https://photos.example/p/{n}", "https://pic.example/{n}.jpg", "https://imgs.example/a/{n}"]
EXTRAS = ["", "", "", " 😡", " 🤬", " !!!", " #BrightloopLive", " #fail", " #BrightloopLive #refund", " ugh"]
PREFIXES = ["", "", "", "@brightloop ", "@brightloop @brightloop_help ", "hey @brightloop "]


def typo(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    long = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if not long:
        return text
    i = rng.choice(long)
    w = words[i]
    j = rng.randrange(1, len(w) - 1)
    words[i] = rng.choice([w[:j] + w[j + 1:], w[:j] + w[j + 1] + w[j] + w[j + 2:], w[:j] + w[j] + w[j:]])
    return " ".join(words)


def vary(text: str, rng: random.Random, n: int) -> str:
    """One person's way of posting a complaint: a typo, shouting, a quote, a photo, a tag or a handle."""
    roll = rng.random()
    if roll < 0.25:
        text = typo(text, rng)
    elif roll < 0.35:
        text = text.upper()
    elif roll < 0.45:
        text = f"RT @{rng.choice(['ana_k', 'loopfan', 'jules_b', 'mara'])}: {text}"
    elif roll < 0.55:
        text = f"{text} {rng.choice(PHOTOS).format(n=n)}"
    return rng.choice(PREFIXES) + text + rng.choice(EXTRAS)



WEIGHTS = {"cancelled": 16, "refund": 18, "stranded": 10, "food_water": 10, "tents": 9, "no_answer": 12,
           "shipping": 8, "giveaway": 7}


def flood_post(rng: random.Random, n: int) -> tuple[str, str]:
    """(label, text) of one post of the flood: one of the complaints, or a one-off beside it."""
    if rng.random() < 0.1:
        return "one-off", vary(rng.choice(ONE_OFFS), rng, n)
    topics = list(WEIGHTS)
    topic = rng.choices(topics, weights=[WEIGHTS[t] for t in topics])[0]
    return topic, vary(rng.choice(TOPICS[topic]), rng, n)
