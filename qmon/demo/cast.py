"""Who the demo company is: its staff, its customers, the channels they use, its time zone
and its CRM, shared by the time model (`timing`), the journeys (`company`) and `generator`.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

TZ = ZoneInfo("Europe/Amsterdam")
SOURCE = "demo"
CRM_URL = "https://crm.example.nl"

SALES_OWNERS: tuple[str, ...] = ("anna", "bram", "femke", "jeroen", "pieter")
SUPPORT_OWNERS: tuple[str, ...] = ("dewi", "lotte", "sanne", "thijs")
SLOW_OWNER = "pieter"
"""Takes about twice as long as his colleagues for everything: `audit --by owner` shows it."""
CHANNELS: tuple[str, ...] = ("email", "phone", "web", "chat")

#: Customers, most active first: a few big accounts and a long tail.
ACCOUNTS: tuple[str, ...] = (
    "Van der Meer Installatietechniek B.V.",
    "Bouwbedrijf De Vries",
    "Jansen Logistiek",
    "Hollandia Metaalbewerking",
    "Groene Hart Kwekerijen",
    "Rijnmond Scheepstechniek",
    "Drukkerij Verhoeven",
    "Zeeuwse Havendiensten",
    "Veluwe Houtbouw",
    "Amstel Adviesgroep",
    "Twentse Kunststoffen B.V.",
    "Friesland Zuivelgroothandel",
    "Bakker & Zonen Elektro",
    "Noordzee Visverwerking",
    "Zorggroep Het Baken",
    "Limburgse Vloerenfabriek",
    "De Graaf Transport",
    "Kaashandel Gouda-West",
    "Dijkstra Bouwmaterialen",
    "Visser ICT Diensten",
    "Smit Groenvoorziening",
    "Mulder Schoonmaakdiensten",
    "Bos Architecten",
    "Hoekstra Agrotechniek",
    "Peters Installatiegroep",
    "Kuipers Verpakkingen",
    "Van Dijk Bakkerijen",
    "Westland Glastuinbouw",
    "Hendriks Koeltechniek",
    "Achterhoekse Meubelmakerij",
    "Drentse Energiecoöperatie",
    "Schouten Accountants",
    "Koster Marine Services",
    "Brouwer Laboratoriumtechniek",
    "Meijer Foodservice",
    "Gelderse Fietsfabriek",
)

#: The largest accounts, promised contact at least every 30 days.
KEY_ACCOUNTS = 8
