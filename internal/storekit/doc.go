// Package storekit is what every picocache store shares: redaction of
// store URLs for messages, and URL parsing whose errors never repeat a
// password. It is internal to the module; users never import it.
//
// It must not import a store package or a driver.
package storekit
