package dev.shootdown.host.kafka;

import dev.shootdown.event.Envelope;

/** One record of a run's log: the line exactly as stored in Kafka, and its decoded envelope. */
public record RecordedEvent(Envelope envelope, String line) {}
