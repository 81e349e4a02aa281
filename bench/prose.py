"""Generated news prose: headlines, sentences and HTML bodies from one seeded generator.

The word lists are the bench's own; every headline is "<subject> <verb> <object> in
<place>", which gives about two million distinct headlines.
"""

from __future__ import annotations

import random
from xml.sax.saxutils import escape


def _choices(text: str) -> tuple[str, ...]:
    return tuple(text.split("|"))


_SUBJECTS = _choices(
    "Coastal towns|Port authority|Farmers' union|Central bank|City council|Rail operator|"
    "Health ministry|Energy regulator|Fishing fleet|University researchers|Election board|"
    "Grain traders|Shipping firms|Museum curators|Football federation|Water utility|"
    "Mountain villages|Trade ministry|Airport operator|Teachers' union|Wine growers|"
    "Tech start-ups|Wildlife rangers|Border officials|Hospital staff|Bus drivers|"
    "Textile makers|Solar developers|Housing agency|Tourism board|Fire brigade|"
    "Chess club|Weather service|Road builders|Dock workers|Film festival|Space agency|"
    "Olive growers|Ferry company|Steel mills"
)
_VERBS = _choices(
    "plan|reject|welcome|delay|approve|question|expand|suspend|review|fund|announce|"
    "postpone|back|challenge|unveil|test|cut|raise|defend|launch|extend|pause|finish|"
    "rethink|double|share|protest|sign|open|close"
)
_OBJECTS = _choices(
    "new railway link|grain export deal|election timetable|drought relief fund|"
    "port expansion|night ferry service|solar farm tender|water price rise|"
    "hospital wing|wage agreement|museum reopening|fishing quota|bridge repair|"
    "tourist tax|school meal scheme|airport runway|housing plan|flood barrier|"
    "wildfire drill|bus network overhaul|textile import rule|olive harvest forecast|"
    "space launch window|chess tournament bid|cross-border corridor|river clean-up|"
    "steel tariff|film subsidy|road toll|heat wave plan|vaccine campaign|data centre|"
    "coastal highway|dock automation|wine export push|ranger patrols|tram line|"
    "fuel subsidy|library network|ski season opening"
)
_PLACES = _choices(
    "Izmir|Trabzon|Antalya|Bursa|Konya|Mersin|Kars|Edirne|Samsun|Van|Tbilisi|Baku|"
    "Yerevan|Athens|Sofia|Bucharest|Odesa|Varna|Thessaloniki|Batumi|Gaziantep|Eskisehir|"
    "Kayseri|Rize|Sinop|Canakkale|Bodrum|Mardin|Erzurum|Adana|Plovdiv|Constanta|Ganja|"
    "Kutaisi|Gyumri|Patras|Larnaca|Nicosia|Burgas|Shumen"
)
_CLAUSES = _choices(
    "officials said on Tuesday|according to figures released this week|"
    "after months of talks|despite objections from residents|"
    "in a statement published late on Monday|as the season draws near|"
    "with support from regional partners|amid rising costs|"
    "following a public consultation|ahead of the spring deadline|"
    "while critics called for more detail|under a plan first floated last year"
)
_REMARKS = _choices(
    "The decision affects thousands of households across the region.|"
    "Local businesses said the change would help them plan for the year.|"
    "Opposition members asked for the full cost to be made public.|"
    "A spokesperson declined to give a date for the next review.|"
    "Residents gathered outside the town hall to hear the announcement.|"
    "Analysts expect the measure to raise demand over the coming months.|"
    "The project will be paid for partly by a regional development grant.|"
    "Engineers have already surveyed most of the planned route.|"
    "Unions said they would study the text before responding.|"
    "Earlier estimates put the price at roughly half the current figure.|"
    "Several neighbouring districts are considering similar steps.|"
    "The ministry said further details would follow within weeks."
)
AGENCIES = ("Anatolia Wire", "Black Sea Press", "Aegean News Service", "Caucasus Desk")


class Writer:
    """Draws headlines, sentences and HTML bodies from one seeded generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def headline(self) -> str:
        """A headline not drawn before by this writer."""
        while True:
            title = (
                f"{self.rng.choice(_SUBJECTS)} {self.rng.choice(_VERBS)} "
                f"{self.rng.choice(_OBJECTS)} in {self.rng.choice(_PLACES)}"
            )
            if title not in self.used:
                self.used.add(title)
                return title

    def sentence(self) -> str:
        """One sentence of news prose."""
        if self.rng.random() < 0.5:
            return self.rng.choice(_REMARKS)
        return (
            f"{self.rng.choice(_SUBJECTS)} in {self.rng.choice(_PLACES)} "
            f"{self.rng.choice(_VERBS)} the {self.rng.choice(_OBJECTS)}, "
            f"{self.rng.choice(_CLAUSES)}."
        )

    def paragraph(self) -> str:
        """Two to four sentences."""
        return " ".join(self.sentence() for _ in range(self.rng.randint(2, 4)))

    def body(self, site: str, slug: str) -> str:
        """An HTML body of 1–3 KB: paragraphs, a link, an image, sometimes relative URLs."""
        target = self.rng.randint(1000, 3000)
        relative = self.rng.random() < 0.35
        image = f"images/{slug}.jpg" if relative else f"{site}images/{slug}.jpg"
        more = f"/{slug}/more" if relative else f"{site}{slug}/more"
        parts = [
            f'<p><img src="{image}" alt="Photo for {slug}" width="640" height="360"></p>',
            f"<p><strong>{escape(self.sentence())}</strong> {escape(self.paragraph())}</p>",
        ]
        size = sum(map(len, parts))
        while size < target - 200:
            text = escape(self.paragraph())
            if self.rng.random() < 0.3:
                text = f"<em>{text}</em>"
            parts.append(f"<p>{text}</p>")
            size += len(parts[-1])
        parts.append(f'<p>Read <a href="{more}">the full report</a> on our site.</p>')
        return "\n".join(parts)


def slug(title: str) -> str:
    """The headline as a URL path segment: lower case, words joined by hyphens."""
    return "-".join("".join(c for c in word if c.isalnum()) for word in title.lower().split())
