"""Example send requests (events/sender/*.json) and the Graph API bodies each must become."""

from __future__ import annotations

from typing import Any

TO = "16505551234"
WAMID = "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTdCNUU2RjlGODg0MjE0NTlBMwA="


def message(kind: str, content: Any, **top: Any) -> dict[str, Any]:
    """A complete Graph API message body."""
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": TO,
        "type": kind,
        kind: content,
        **top,
    }


def media(link: str, **fields: Any) -> dict[str, Any]:
    return {"link": link, **fields}


CATALOG = "194836987003835"


def carousel_card(index: int, sku: str, price: str) -> dict[str, Any]:
    """A card of the seasonal_offers carousel: image header, price, quick reply and URL buttons."""
    return {
        "card_index": index,
        "components": [
            {
                "type": "header",
                "parameters": [{"type": "image", "image": media(f"https://example.com/img/{sku}.jpg")}],
            },
            {"type": "body", "parameters": [{"type": "text", "text": price}]},
            {
                "type": "button",
                "sub_type": "quick_reply",
                "index": "0",
                "parameters": [{"type": "payload", "payload": f"MORE_{sku}"}],
            },
            {
                "type": "button",
                "sub_type": "url",
                "index": "1",
                "parameters": [{"type": "text", "text": sku}],
            },
        ],
    }


EXPECTED: dict[str, list[dict[str, Any]]] = {
    # A contact known by business-scoped id: Meta's `recipient` in place of `to`.
    "template_to_user_id": [
        {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "recipient": "US.13491208655302741918",
            "type": "template",
            "template": {"name": "hello_world", "language": {"code": "en_US"}},
        }
    ],
    "text": [
        message(
            "text",
            {"body": "Your order #1042 has shipped: https://example.com/track/1042", "preview_url": True},
        )
    ],
    "text_reply": [
        message("text", {"body": "Yes, we are open until 8 pm today."}, context={"message_id": WAMID})
    ],
    "template": [
        message(
            "template",
            {
                "name": "order_receipt",
                "language": {"code": "en_US"},
                "components": [
                    {
                        "type": "header",
                        "parameters": [
                            {"type": "image", "image": media("https://example.com/img/order-1042.jpg")}
                        ],
                    },
                    {
                        "type": "body",
                        "parameters": [
                            {"type": "text", "text": "Maria"},
                            {
                                "type": "currency",
                                "currency": {
                                    "fallback_value": "$100.99",
                                    "code": "USD",
                                    "amount_1000": 100990,
                                },
                            },
                            {"type": "date_time", "date_time": {"fallback_value": "March 14, 2027 at 18:30"}},
                        ],
                    },
                    {
                        "type": "button",
                        "sub_type": "url",
                        "index": "0",
                        "parameters": [{"type": "text", "text": "1042"}],
                    },
                    {
                        "type": "button",
                        "sub_type": "quick_reply",
                        "index": "1",
                        "parameters": [{"type": "payload", "payload": "CANCEL_ORDER_1042"}],
                    },
                ],
            },
            biz_opaque_callback_data="order-1042",
        )
    ],
    "template_movie_ticket": [
        message(
            "template",
            {
                "name": "sample_movie_ticket_confirmation",
                "language": {"code": "en_US"},
                "components": [
                    {
                        "type": "header",
                        "parameters": [
                            {
                                "type": "image",
                                "image": media("https://example.com/posters/the-grand-budapest-hotel.jpg"),
                            }
                        ],
                    },
                    {
                        "type": "body",
                        "parameters": [
                            {"type": "text", "text": "The Grand Budapest Hotel"},
                            {
                                "type": "date_time",
                                "date_time": {"fallback_value": "Friday, March 12, 2027, 20:00"},
                            },
                            {"type": "text", "text": "Cinema Paradiso, Screen 3"},
                            {"type": "text", "text": "F7, F8, F9"},
                        ],
                    },
                ],
            },
        )
    ],
    "image": [message("image", media("https://example.com/img/menu.jpg", caption="Today's menu"))],
    "document": [
        message(
            "document", {"id": "1037543291543636", "filename": "invoice-1042.pdf", "caption": "Your invoice"}
        )
    ],
    "video": [
        message("video", media("https://example.com/video/assembly.mp4", caption="Assembly in 60 seconds"))
    ],
    "audio": [message("audio", media("https://example.com/audio/welcome.ogg"))],
    "sticker": [message("sticker", {"id": "798882015472548"})],
    "interactive_buttons": [
        message(
            "interactive",
            {
                "type": "button",
                "header": {"type": "text", "text": "Delivery slot"},
                "body": {"text": "When should we deliver order #1042?"},
                "footer": {"text": "Reply within 24 hours"},
                "action": {
                    "buttons": [
                        {"type": "reply", "reply": {"id": "slot-morning", "title": "Morning"}},
                        {"type": "reply", "reply": {"id": "slot-afternoon", "title": "Afternoon"}},
                        {"type": "reply", "reply": {"id": "slot-evening", "title": "Evening"}},
                    ]
                },
            },
        )
    ],
    "interactive_list": [
        message(
            "interactive",
            {
                "type": "list",
                "header": {"type": "text", "text": "Menu"},
                "body": {"text": "What would you like to order?"},
                "footer": {"text": "Prices include VAT"},
                "action": {
                    "button": "View menu",
                    "sections": [
                        {
                            "title": "Main courses",
                            "rows": [
                                {"id": "pizza", "title": "Pizza", "description": "Cheese pizza, 12 inch"},
                                {
                                    "id": "pasta",
                                    "title": "Pasta",
                                    "description": "Spaghetti with marinara sauce",
                                },
                            ],
                        },
                        {
                            "title": "Desserts",
                            "rows": [
                                {"id": "ice-cream", "title": "Ice cream"},
                                {"id": "cake", "title": "Cake", "description": "Chocolate fudge cake"},
                            ],
                        },
                    ],
                },
            },
        )
    ],
    "interactive_cta_url": [
        message(
            "interactive",
            {
                "type": "cta_url",
                "header": {"type": "image", "image": media("https://example.com/img/sale.jpg")},
                "body": {"text": "Our spring sale ends on Sunday."},
                "footer": {"text": "Example Shop"},
                "action": {
                    "name": "cta_url",
                    "parameters": {
                        "display_text": "See the offers",
                        "url": "https://example.com/sale?utm_source=whatsapp",
                    },
                },
            },
        )
    ],
    "location": [
        message(
            "location",
            {
                "latitude": 37.4224764,
                "longitude": -122.0842499,
                "name": "Googleplex",
                "address": "1600 Amphitheatre Parkway, Mountain View, CA",
            },
        )
    ],
    "contacts": [
        message(
            "contacts",
            [
                {
                    "addresses": [
                        {
                            "street": "1 Hacker Way",
                            "city": "Menlo Park",
                            "state": "CA",
                            "zip": "94025",
                            "country": "United States",
                            "country_code": "US",
                            "type": "WORK",
                        }
                    ],
                    "birthday": "1990-04-23",
                    "emails": [{"email": "jane.doe@example.com", "type": "WORK"}],
                    "name": {"formatted_name": "Jane Doe", "first_name": "Jane", "last_name": "Doe"},
                    "org": {"company": "Example Shop", "department": "Support", "title": "Team lead"},
                    "phones": [{"phone": "+1 650 555 1235", "type": "WORK", "wa_id": "16505551235"}],
                    "urls": [{"url": "https://example.com", "type": "WORK"}],
                }
            ],
        )
    ],
    "reaction": [message("reaction", {"message_id": WAMID, "emoji": "\N{THUMBS UP SIGN}"})],
    "mark_as_read": [
        {
            "messaging_product": "whatsapp",
            "status": "read",
            "message_id": WAMID,
            "typing_indicator": {"type": "text"},
        }
    ],
    "interactive_location_request": [
        message(
            "interactive",
            {
                "type": "location_request_message",
                "body": {
                    "text": "Where should we deliver order #1042? Tap the button to share your location."
                },
                "action": {"name": "send_location"},
            },
        )
    ],
    "interactive_flow": [
        message(
            "interactive",
            {
                "type": "flow",
                "header": {"type": "text", "text": "Book a table"},
                "body": {"text": "Pick a day and a time, and we keep a table for you."},
                "footer": {"text": "Example Bistro"},
                "action": {
                    "name": "flow",
                    "parameters": {
                        "flow_message_version": "3",
                        "flow_id": "1197715005513101",
                        "flow_token": "booking-16505551234-1042",
                        "flow_cta": "Book now",
                        "mode": "published",
                        "flow_action": "navigate",
                        "flow_action_payload": {
                            "screen": "BOOKING",
                            "data": {"party_size": 2, "dates": ["2027-03-14", "2027-03-15"]},
                        },
                    },
                },
            },
        )
    ],
    "interactive_product": [
        message(
            "interactive",
            {
                "type": "product",
                "body": {"text": "The lamp you asked about is back in stock."},
                "footer": {"text": "Example Shop"},
                "action": {"catalog_id": CATALOG, "product_retailer_id": "lamp-oak-01"},
            },
        )
    ],
    "interactive_product_list": [
        message(
            "interactive",
            {
                "type": "product_list",
                "header": {"type": "text", "text": "Spring collection"},
                "body": {"text": "Our new arrivals, picked for you."},
                "footer": {"text": "Free delivery over $50"},
                "action": {
                    "catalog_id": CATALOG,
                    "sections": [
                        {
                            "title": "Lamps",
                            "product_items": [
                                {"product_retailer_id": "lamp-oak-01"},
                                {"product_retailer_id": "lamp-brass-02"},
                            ],
                        },
                        {"title": "Rugs", "product_items": [{"product_retailer_id": "rug-wool-07"}]},
                    ],
                },
            },
        )
    ],
    "template_carousel": [
        message(
            "template",
            {
                "name": "seasonal_offers",
                "language": {"code": "en_US"},
                "components": [
                    {"type": "body", "parameters": [{"type": "text", "text": "Maria"}]},
                    {
                        "type": "carousel",
                        "cards": [
                            carousel_card(0, "lamp-oak-01", "$49"),
                            carousel_card(1, "rug-wool-07", "$120"),
                        ],
                    },
                ],
            },
        )
    ],
    "batch": [
        message(
            "template",
            {
                "name": "appointment_reminder",
                "language": {"code": "en_US"},
                "components": [
                    {
                        "type": "body",
                        "parameters": [
                            {"type": "date_time", "date_time": {"fallback_value": "tomorrow at 10:00"}}
                        ],
                    }
                ],
            },
        ),
        message(
            "location",
            {
                "latitude": 51.5007292,
                "longitude": -0.1246254,
                "name": "Example Clinic",
                "address": "Westminster, London SW1A 0AA",
            },
        ),
        {"messaging_product": "whatsapp", "status": "read", "message_id": WAMID},
    ],
}
