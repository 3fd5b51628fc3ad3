//! Every sentence a visitor can see, in English, Spanish and German.
//!
//! The language comes from the embed's `data-language`, else `navigator.language`, else English
//! ([`Lang::pick`]). Strings are plain text (never HTML); `{}` marks where a value goes.

/// A language the widget speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// English (the default).
    #[default]
    En,
    /// Spanish.
    Es,
    /// German.
    De,
}

impl Lang {
    /// The language of a BCP 47 tag such as `de-AT` or `es`; `None` when we do not speak it.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "es" => Some(Lang::Es),
            "de" => Some(Lang::De),
            _ => None,
        }
    }

    /// The embed's choice if we speak it, else the first browser language we speak, else English.
    pub fn pick(attribute: Option<&str>, browser: &[String]) -> Lang {
        attribute
            .and_then(Lang::from_tag)
            .or_else(|| browser.iter().find_map(|t| Lang::from_tag(t)))
            .unwrap_or_default()
    }

    /// The tag for `lang` attributes and `Intl` formatting.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
            Lang::De => "de",
        }
    }
}

/// A sentence or label of the widget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Msg {
    CallUs,
    CallAgain,
    HangUp,
    Mute,
    Unmute,
    Keypad,
    Close,
    RequestCallback,
    Available,
    Wait,
    Closed,
    ClosedUntil,
    Busy,
    Unreachable,
    Connecting,
    QueuePosition,
    QueueNext,
    QueueWait,
    Calling,
    Ringing,
    EarlyMedia,
    Answered,
    Reconnecting,
    Duration,
    MicLevel,
    EndLocal,
    EndRemote,
    EndBusy,
    EndNoAnswer,
    EndRejected,
    EndUnavailable,
    EndTimeout,
    EndNoAgent,
    EndFailed,
    ErrMicDenied,
    ErrMicBlocked,
    ErrNoMic,
    ErrMicBusy,
    ErrUnsupported,
    ErrNetwork,
    ErrConnectionLost,
    ErrOrigin,
    ErrRateLimited,
    ErrNotTakingCalls,
    ErrGeneric,
    CallbackIntro,
    Phone,
    PhoneHint,
    Name,
    Consent,
    Send,
    PhoneInvalid,
    ConsentRequired,
    CallbackSent,
    CallbackFailed,
}

/// The text of `msg` in `lang`.
pub fn text(lang: Lang, msg: Msg) -> &'static str {
    let (en, es, de) = table(msg);
    match lang {
        Lang::En => en,
        Lang::Es => es,
        Lang::De => de,
    }
}

/// `(English, Spanish, German)` for each message.
fn table(msg: Msg) -> (&'static str, &'static str, &'static str) {
    use Msg::*;
    match msg {
        CallUs => ("Call us", "Llámenos", "Rufen Sie uns an"),
        CallAgain => ("Call again", "Volver a llamar", "Erneut anrufen"),
        HangUp => ("Hang up", "Colgar", "Auflegen"),
        Mute => ("Mute", "Silenciar", "Stumm"),
        Unmute => ("Unmute", "Activar micrófono", "Stumm aus"),
        Keypad => ("Keypad", "Teclado", "Tastenfeld"),
        Close => ("Close", "Cerrar", "Schließen"),
        RequestCallback => (
            "Request a callback",
            "Solicitar una llamada",
            "Rückruf anfordern",
        ),
        Available => (
            "We're available. Press the button to call us from your browser.",
            "Estamos disponibles. Pulse el botón para llamarnos desde su navegador.",
            "Wir sind erreichbar. Drücken Sie die Taste, um uns aus dem Browser anzurufen.",
        ),
        Wait => (
            "Expected wait: about {} min.",
            "Espera estimada: unos {} min.",
            "Voraussichtliche Wartezeit: etwa {} Min.",
        ),
        Closed => (
            "We're closed right now.",
            "Ahora mismo estamos cerrados.",
            "Wir haben gerade geschlossen.",
        ),
        ClosedUntil => (
            "We're closed right now. We open again {}.",
            "Ahora mismo estamos cerrados. Volvemos a abrir el {}.",
            "Wir haben gerade geschlossen. Wir sind wieder da: {}.",
        ),
        Busy => (
            "All our agents are busy right now.",
            "Todos nuestros agentes están ocupados en este momento.",
            "Alle Mitarbeiter sind gerade im Gespräch.",
        ),
        Unreachable => (
            "Calling is not available right now.",
            "Las llamadas no están disponibles en este momento.",
            "Anrufe sind gerade nicht möglich.",
        ),
        Connecting => ("Connecting\u{2026}", "Conectando\u{2026}", "Verbinde\u{2026}"),
        // The queue line is QueuePosition or QueueNext, then QueueWait or a full stop.
        QueuePosition => (
            "You are number {} in line",
            "Es el número {} en la cola",
            "Sie sind Nummer {} in der Warteschlange",
        ),
        QueueNext => ("You are next", "Es el siguiente", "Sie sind als Nächstes dran"),
        QueueWait => (
            " \u{2014} about {} min.",
            " \u{2014} unos {} min.",
            " \u{2013} etwa {} Min.",
        ),
        Calling => ("Calling\u{2026}", "Llamando\u{2026}", "Wähle\u{2026}"),
        Ringing => ("Ringing\u{2026}", "Sonando\u{2026}", "Es klingelt\u{2026}"),
        EarlyMedia => (
            "Connecting you\u{2026}",
            "Le estamos conectando\u{2026}",
            "Sie werden verbunden\u{2026}",
        ),
        Answered => ("Connected", "Conectado", "Verbunden"),
        Reconnecting => (
            "The connection is unstable. Reconnecting\u{2026}",
            "La conexión es inestable. Reconectando\u{2026}",
            "Die Verbindung ist instabil. Verbinde neu\u{2026}",
        ),
        Duration => ("Call duration", "Duración de la llamada", "Gesprächsdauer"),
        MicLevel => (
            "Your microphone level",
            "Nivel de su micrófono",
            "Pegel Ihres Mikrofons",
        ),
        EndLocal => (
            "You ended the call.",
            "Ha finalizado la llamada.",
            "Sie haben das Gespräch beendet.",
        ),
        EndRemote => (
            "The call has ended.",
            "La llamada ha finalizado.",
            "Das Gespräch wurde beendet.",
        ),
        EndBusy => (
            "The line is busy. Please try again in a moment.",
            "La línea está ocupada. Inténtelo de nuevo en un momento.",
            "Die Leitung ist besetzt. Bitte versuchen Sie es gleich noch einmal.",
        ),
        EndNoAnswer => (
            "No one answered. Please try again later.",
            "Nadie ha contestado. Inténtelo de nuevo más tarde.",
            "Niemand hat abgenommen. Bitte versuchen Sie es später noch einmal.",
        ),
        EndRejected => (
            "The call was declined.",
            "La llamada ha sido rechazada.",
            "Der Anruf wurde abgelehnt.",
        ),
        EndUnavailable => (
            "We can't take your call right now. Please try again later.",
            "No podemos atender su llamada ahora. Inténtelo de nuevo más tarde.",
            "Wir können Ihren Anruf gerade nicht annehmen. Bitte versuchen Sie es später.",
        ),
        EndTimeout => (
            "The call timed out.",
            "Se agotó el tiempo de la llamada.",
            "Der Anruf hat zu lange gedauert und wurde beendet.",
        ),
        EndNoAgent => (
            "Sorry, all our agents are still busy.",
            "Lo sentimos, todos nuestros agentes siguen ocupados.",
            "Leider sind alle Mitarbeiter noch im Gespräch.",
        ),
        EndFailed => (
            "The call could not be completed.",
            "No se pudo completar la llamada.",
            "Der Anruf konnte nicht durchgeführt werden.",
        ),
        ErrMicDenied => (
            "Microphone access was denied. To call us, click the icon at the left of the address \
             bar, allow the microphone for this site, then press Call again.",
            "Se denegó el acceso al micrófono. Para llamarnos, haga clic en el icono a la izquierda \
             de la barra de direcciones, permita el micrófono para este sitio y pulse Volver a llamar.",
            "Der Zugriff auf das Mikrofon wurde verweigert. Klicken Sie links in der Adressleiste \
             auf das Symbol, erlauben Sie das Mikrofon für diese Seite und drücken Sie Erneut anrufen.",
        ),
        ErrMicBlocked => (
            "This page is not allowed to use the microphone. Please call us from another browser \
             or device.",
            "Esta página no puede usar el micrófono. Llámenos desde otro navegador o dispositivo.",
            "Diese Seite darf das Mikrofon nicht verwenden. Bitte rufen Sie uns mit einem anderen \
             Browser oder Gerät an.",
        ),
        ErrNoMic => (
            "No microphone was found. Connect one and press Call again.",
            "No se encontró ningún micrófono. Conecte uno y pulse Volver a llamar.",
            "Kein Mikrofon gefunden. Schließen Sie eines an und drücken Sie Erneut anrufen.",
        ),
        ErrMicBusy => (
            "Your microphone is in use by another application. Close it and press Call again.",
            "Otra aplicación está usando su micrófono. Ciérrela y pulse Volver a llamar.",
            "Ihr Mikrofon wird von einer anderen Anwendung benutzt. Schließen Sie diese und \
             drücken Sie Erneut anrufen.",
        ),
        ErrUnsupported => (
            "This browser cannot place calls. Please try a current version of Chrome, Edge, \
             Firefox or Safari.",
            "Este navegador no puede realizar llamadas. Pruebe una versión actual de Chrome, Edge, \
             Firefox o Safari.",
            "Dieser Browser kann keine Anrufe tätigen. Bitte nutzen Sie eine aktuelle Version von \
             Chrome, Edge, Firefox oder Safari.",
        ),
        ErrNetwork => (
            "We could not reach the call service. Check your connection and try again.",
            "No pudimos conectar con el servicio. Compruebe su conexión e inténtelo de nuevo.",
            "Der Anrufdienst ist nicht erreichbar. Prüfen Sie Ihre Verbindung und versuchen Sie \
             es erneut.",
        ),
        ErrConnectionLost => (
            "The connection was lost and the call has ended. Check your connection and call again.",
            "Se perdió la conexión y la llamada ha finalizado. Compruebe su conexión y vuelva a \
             llamar.",
            "Die Verbindung ist abgebrochen, das Gespräch wurde beendet. Prüfen Sie Ihre \
             Verbindung und rufen Sie erneut an.",
        ),
        ErrOrigin => (
            "Calls cannot be placed from this website.",
            "No se pueden realizar llamadas desde este sitio web.",
            "Von dieser Website aus können keine Anrufe getätigt werden.",
        ),
        ErrRateLimited => (
            "Too many calls right now. Please wait a minute and try again.",
            "Demasiadas llamadas en este momento. Espere un minuto e inténtelo de nuevo.",
            "Gerade gibt es zu viele Anrufe. Bitte warten Sie eine Minute.",
        ),
        ErrNotTakingCalls => (
            "We can't take calls right now. Please try again later.",
            "No podemos atender llamadas ahora. Inténtelo de nuevo más tarde.",
            "Wir können gerade keine Anrufe annehmen. Bitte versuchen Sie es später.",
        ),
        ErrGeneric => (
            "Something went wrong. Please try again.",
            "Algo salió mal. Inténtelo de nuevo.",
            "Etwas ist schiefgegangen. Bitte versuchen Sie es erneut.",
        ),
        CallbackIntro => (
            "Leave your number and we'll call you back.",
            "Déjenos su número y le devolveremos la llamada.",
            "Hinterlassen Sie Ihre Nummer, wir rufen Sie zurück.",
        ),
        Phone => ("Phone number", "Número de teléfono", "Telefonnummer"),
        PhoneHint => (
            "With country code, e.g. +44 20 7946 0958",
            "Con prefijo internacional, p. ej. +34 912 345 678",
            "Mit Ländervorwahl, z. B. +49 30 1234567",
        ),
        Name => ("Your name (optional)", "Su nombre (opcional)", "Ihr Name (optional)"),
        Consent => (
            "I agree to be called back at this number.",
            "Acepto que me llamen a este número.",
            "Ich bin einverstanden, unter dieser Nummer zurückgerufen zu werden.",
        ),
        Send => ("Send", "Enviar", "Senden"),
        PhoneInvalid => (
            "Please enter a valid phone number.",
            "Introduzca un número de teléfono válido.",
            "Bitte geben Sie eine gültige Telefonnummer ein.",
        ),
        ConsentRequired => (
            "Please agree to be called back.",
            "Acepte que le devolvamos la llamada.",
            "Bitte stimmen Sie dem Rückruf zu.",
        ),
        CallbackSent => (
            "Thank you. We'll call you back as soon as we can.",
            "Gracias. Le llamaremos lo antes posible.",
            "Vielen Dank. Wir rufen Sie so bald wie möglich zurück.",
        ),
        CallbackFailed => (
            "Your request could not be sent. Please try again.",
            "No se pudo enviar su solicitud. Inténtelo de nuevo.",
            "Ihre Anfrage konnte nicht gesendet werden. Bitte versuchen Sie es erneut.",
        ),
    }
}

/// `template` with its `{}` replaced by `value`.
pub fn fill(template: &str, value: &str) -> String {
    // A char split, not `replacen("{}")`: the substring searcher costs ~2 KiB of wasm.
    match template.split_once('{') {
        Some((before, after)) => {
            format!(
                "{before}{value}{}",
                after.strip_prefix('}').unwrap_or(after)
            )
        }
        None => template.to_owned(),
    }
}

/// The message for an end reason from the wire (`hangup_remote`, …).
pub fn end_reason(reason: &str) -> Msg {
    match reason {
        "hangup_local" => Msg::EndLocal,
        "hangup_remote" => Msg::EndRemote,
        "busy" => Msg::EndBusy,
        "no_answer" => Msg::EndNoAnswer,
        "rejected" => Msg::EndRejected,
        "unavailable" => Msg::EndUnavailable,
        "timeout" => Msg::EndTimeout,
        "no_agent" => Msg::EndNoAgent,
        _ => Msg::EndFailed,
    }
}

/// The message for an error code (the widget's own or the API's); `None` for codes we have no
/// words for, where the server's own message (if any) is shown.
pub fn error_code(code: &str) -> Option<Msg> {
    Some(match code {
        "microphone_denied" => Msg::ErrMicDenied,
        "microphone_blocked" => Msg::ErrMicBlocked,
        "no_microphone" => Msg::ErrNoMic,
        "microphone_busy" => Msg::ErrMicBusy,
        "webrtc_unsupported" => Msg::ErrUnsupported,
        "network" => Msg::ErrNetwork,
        "connection_lost" => Msg::ErrConnectionLost,
        "origin_not_allowed" => Msg::ErrOrigin,
        "rate_limited" => Msg::ErrRateLimited,
        "no_agent" => Msg::Busy,
        "unavailable" | "closed" | "pool_exhausted" | "campaign_not_found" => {
            Msg::ErrNotTakingCalls
        }
        "bad_response" | "failed" | "bad_answer" | "internal" => Msg::ErrGeneric,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LANGS: [Lang; 3] = [Lang::En, Lang::Es, Lang::De];

    #[test]
    fn the_embed_attribute_wins_then_the_browser_then_english() {
        let browser = vec!["fr-FR".to_owned(), "de-CH".to_owned()];
        assert_eq!(Lang::pick(Some("es"), &browser), Lang::Es);
        assert_eq!(Lang::pick(Some("ES-mx"), &[]), Lang::Es);
        assert_eq!(Lang::pick(Some("fr"), &browser), Lang::De);
        assert_eq!(Lang::pick(None, &browser), Lang::De);
        assert_eq!(Lang::pick(None, &["fr".to_owned()]), Lang::En);
        assert_eq!(Lang::pick(Some(""), &[]), Lang::En);
    }

    #[test]
    fn every_language_has_its_own_words() {
        for msg in [
            Msg::CallUs,
            Msg::ErrMicDenied,
            Msg::CallbackSent,
            Msg::EndBusy,
            Msg::EndNoAgent,
            Msg::QueuePosition,
            Msg::QueueNext,
        ] {
            let [en, es, de] = LANGS.map(|l| text(l, msg));
            assert!(en != es && es != de && en != de, "{msg:?}");
        }
        for l in LANGS {
            for m in [
                Msg::Wait,
                Msg::ClosedUntil,
                Msg::QueuePosition,
                Msg::QueueWait,
            ] {
                assert!(text(l, m).contains("{}"), "{l:?} {m:?}");
            }
        }
        assert_eq!(fill("about {} min", "3"), "about 3 min");
    }

    #[test]
    fn every_end_reason_has_its_own_sentence() {
        let reasons = [
            "hangup_local",
            "hangup_remote",
            "busy",
            "no_answer",
            "rejected",
            "unavailable",
            "timeout",
            "no_agent",
        ];
        for r in reasons {
            assert_ne!(end_reason(r), Msg::EndFailed, "{r}");
        }
        assert_eq!(end_reason("something_new"), Msg::EndFailed);
        // Every reason on the wire, including ones added later, has a sentence of its own in
        // every language.
        let wire = crate::state::END_REASONS.map(|r| end_reason(r.as_str()));
        for (i, a) in wire.iter().enumerate() {
            for b in &wire[i + 1..] {
                for l in LANGS {
                    assert_ne!(text(l, *a), text(l, *b), "{l:?} {a:?} {b:?}");
                }
            }
        }
    }

    #[test]
    fn errors_the_visitor_can_fix_say_how() {
        for code in ["microphone_denied", "no_microphone", "microphone_busy"] {
            let msg = error_code(code).expect("known code");
            assert!(text(Lang::En, msg).contains("Call again"), "{code}");
        }
        assert_eq!(error_code("a_new_server_code"), None);
    }

    #[test]
    fn nobody_free_reads_as_busy_agents() {
        assert_eq!(error_code("no_agent"), Some(Msg::Busy));
        assert_eq!(
            text(Lang::En, Msg::Busy),
            "All our agents are busy right now."
        );
        assert_eq!(end_reason("no_agent"), Msg::EndNoAgent);
        assert_eq!(
            text(Lang::En, Msg::EndNoAgent),
            "Sorry, all our agents are still busy."
        );
        assert_eq!(
            text(Lang::Es, Msg::EndNoAgent),
            "Lo sentimos, todos nuestros agentes siguen ocupados."
        );
        assert_eq!(
            text(Lang::De, Msg::EndNoAgent),
            "Leider sind alle Mitarbeiter noch im Gespräch."
        );
    }
}
