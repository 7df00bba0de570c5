package dev.bpfagent.agent.service;

import java.util.Map;

/**
 * The applications at one moment, for metrics.
 *
 * @param applications how many there are
 * @param byCondition "Ready=true", "Degraded=false", ...: how many applications have that condition so
 * @param reconcilePasses passes over every application since start
 * @param repairs changes those passes made to bring an application back (drift repaired, objects rebuilt)
 */
public record ApplicationStats(int applications, Map<String, Integer> byCondition, long reconcilePasses, long repairs) {
}
