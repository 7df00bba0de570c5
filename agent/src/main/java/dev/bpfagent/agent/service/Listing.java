package dev.bpfagent.agent.service;

import dev.bpfagent.agent.service.auth.Caller;
import dev.bpfagent.agent.service.errors.RequestException;
import dev.bpfagent.agent.service.state.Labels;
import dev.bpfagent.agent.service.state.Registry;
import dev.bpfagent.proto.v1.OwnerFilter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.function.Function;
import java.util.function.IntFunction;
import java.util.function.Predicate;

/**
 * One way to list a resource: pages in id order from a token, held objects from the registry or every
 * kernel object by its GET_NEXT_ID walk, filtered by labels and owner (held objects only) and by what
 * the caller matches (the type). Each object is listed at most once however the set changes between
 * pages.
 */
final class Listing {
    static final int DEFAULT_PAGE = 100;
    static final int MAX_PAGE = 1000;

    private Listing() {
    }

    /** A page and where the next starts (empty when this is the last). */
    record Page<T>(List<T> items, String nextPageToken) {
    }

    /** What a List request asks for, checked. */
    record Query(int after, int pageSize, boolean includeKernel, Predicate<Registry.Entry> agentFilter,
                 boolean agentFiltered) {
    }

    /** @param visible what the caller may see of what the agent holds (the policy's read rules) */
    static Query query(int pageSize, String token, boolean includeKernel, Map<String, String> labels, OwnerFilter owner,
                       Predicate<Registry.Entry> visible) {
        int size = pageSize == 0 ? DEFAULT_PAGE : pageSize;
        if (size < 0 || size > MAX_PAGE) {
            throw RequestException.invalid("page_size", Integer.toUnsignedString(pageSize) + " is above the limit of "
                    + MAX_PAGE + " a page");
        }
        int after = PageToken.decode(token, "page_token");
        Map<String, String> selector = Labels.check(labels, "labels");
        boolean filtered = !selector.isEmpty() || owner.hasUid() || !owner.getTlsSubject().isEmpty();
        Predicate<Registry.Entry> filter = e -> visible.test(e) && Labels.matches(e.labels(), selector)
                && (!owner.hasUid() || (e.owner().transport() == Caller.Transport.UNIX && e.owner().uid() == owner.getUid()))
                && (owner.getTlsSubject().isEmpty() || owner.getTlsSubject().equals(e.owner().tlsSubject()));
        return new Query(after, size, includeKernel, filter, filtered);
    }

    /**
     * @param nextKernelId the kernel's next id after an id (its GET_NEXT_ID), for include_kernel
     * @param fromHeld the item for a held object, empty when it went away while listing
     * @param fromKernel the item for an object the agent does not hold, empty when it went away
     * @param matches the caller's own filter on the item (its type)
     */
    static <T> Page<T> page(Registry registry, Registry.Kind kind, Query q, IntFunction<OptionalInt> nextKernelId,
                            Function<Registry.Entry, Optional<T>> fromHeld, IntFunction<Optional<T>> fromKernel,
                            Predicate<T> matches) {
        List<T> items = new ArrayList<>(Math.min(q.pageSize(), 256));
        int last = q.after();
        boolean more = false;
        if (q.includeKernel()) {
            // The kernel's ids from the token on: objects made meanwhile with lower ids are not listed,
            // none is listed twice.
            int id = q.after();
            while (true) {
                OptionalInt next = nextKernelId.apply(id);
                if (next.isEmpty()) {
                    break;
                }
                id = next.getAsInt();
                if (items.size() == q.pageSize()) {
                    more = true;
                    break;
                }
                Registry.Entry held = registry.find(new Registry.Key(kind, id));
                if ((held == null && q.agentFiltered()) || (held != null && !q.agentFilter().test(held))) {
                    continue;
                }
                Optional<T> item = held != null ? fromHeld.apply(held) : fromKernel.apply(id);
                if (item.isPresent() && matches.test(item.get())) {
                    items.add(item.get());
                    last = id;
                }
            }
        } else {
            int from = q.after();
            fill:
            while (true) {
                List<Registry.Entry> batch = registry.page(kind, from, q.pageSize() + 1, q.agentFilter());
                for (Registry.Entry e : batch) {
                    if (items.size() == q.pageSize()) {
                        more = true;
                        break fill;
                    }
                    from = e.key().id();
                    Optional<T> item = fromHeld.apply(e);
                    if (item.isPresent() && matches.test(item.get())) {
                        items.add(item.get());
                        last = from;
                    }
                }
                if (batch.size() <= q.pageSize()) {
                    break;
                }
            }
        }
        return new Page<>(items, more ? PageToken.encode(last) : "");
    }
}
