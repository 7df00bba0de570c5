package dev.bpfagent.agent.service;

import dev.bpfagent.agent.service.errors.RequestException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * List page tokens: the last id of the previous page, opaque to clients (base64 of "v1:ID"). Pages
 * follow the id order, so each object is listed at most once however the set changes between pages.
 */
final class PageToken {
    private static final String PREFIX = "v1:";

    private PageToken() {
    }

    static String encode(int lastId) {
        return Base64.getUrlEncoder().withoutPadding()
                .encodeToString((PREFIX + Integer.toUnsignedString(lastId)).getBytes(StandardCharsets.US_ASCII));
    }

    /** The id after which the page starts: 0 for an empty token. */
    static int decode(String token, String field) {
        if (token.isEmpty()) {
            return 0;
        }
        try {
            String s = new String(Base64.getUrlDecoder().decode(token), StandardCharsets.US_ASCII);
            if (s.startsWith(PREFIX)) {
                return Integer.parseUnsignedInt(s.substring(PREFIX.length()));
            }
        } catch (IllegalArgumentException e) {
            // fall through: not one of ours
        }
        throw RequestException.invalid(field, "is not a token this agent gave: pass next_page_token as it came");
    }
}
